"""A local stand-in for Shopify, for the demo and tests. Never used in production paths.

GraphQL Admin API: `POST /admin/api/{version}/graphql.json`, behaving like Shopify where it matters:

- the version must be a quarterly one (`YYYY-01|04|07|10`), else 404; `X-Shopify-Access-Token`
  must be the store's token, else 401 with Shopify's error text; the body must be JSON with a
  `query` string and a `variables` object, else 400;
- the query is parsed (operation, variable definitions, selection sets, arguments, inline
  fragments) and checked against the part of the Admin schema we serve (QueryRoot.shop, .products,
  .product; Product, ProductVariant, Media…): an unknown field, a scalar with a selection, an object
  without one, a connection without `first`/`last` or with more than 250, an undeclared variable or
  a variable of the wrong type is a GraphQL error with Shopify's wording;
- the answer holds exactly the fields asked for; products are paginated with opaque cursors;
- cost-based throttling: each query's requested cost is computed from its selection and `first`
  arguments, charged against a leaky bucket (`maximum`, `restore_rate` points per second); a query
  costing more than is available answers `THROTTLED`, more than the maximum `MAX_COST_EXCEEDED`;
  every answer carries `extensions.cost` with `throttleStatus`;
- faults can be injected: the next N requests answer HTTP 429 (with Retry-After), THROTTLED, or 500.

Webhooks: `sign(secret, body)` and `webhook_headers(...)` produce exactly what Shopify sends
(`X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the raw body with the app secret, plus topic,
shop domain, API version, webhook id, event id, triggered-at), and `deliver(url, ...)` POSTs a
signed fixture to omo.

Python use: `with ShopifyStandIn(access_token="shpat_…") as shop: shop.add_product(...); shop.url`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

VERSION = re.compile(r"^/admin/api/(?P<version>\d{4}-(01|04|07|10))/graphql\.json$")
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_ERROR = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)
MAX_PAGE = 250

# The part of the Admin API schema the stand-in serves: type → field → (type, kind, arguments).
# kind: "scalar" | "object" | "connection"
SCHEMA: dict[str, dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "QueryRoot": {
        "shop": ("Shop", "object", ()),
        "products": (
            "Product",
            "connection",
            ("first", "after", "last", "before", "sortKey", "reverse", "query"),
        ),
        "product": ("Product", "object", ("id",)),
    },
    "Shop": {
        "name": ("String", "scalar", ()),
        "currencyCode": ("CurrencyCode", "scalar", ()),
        "myshopifyDomain": ("String", "scalar", ()),
    },
    "PageInfo": {
        name: ("Scalar", "scalar", ())
        for name in ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
    },
    "Product": {
        **{
            name: ("Scalar", "scalar", ())
            for name in (
                "id",
                "legacyResourceId",
                "handle",
                "title",
                "descriptionHtml",
                "vendor",
                "status",
                "updatedAt",
                "createdAt",
                "productType",
                "tags",
            )
        },
        "featuredMedia": ("Media", "object", ()),
        "variants": ("ProductVariant", "connection", ("first", "after", "last", "before")),
    },
    "Media": {
        "alt": ("String", "scalar", ()),
        "mediaContentType": ("String", "scalar", ()),
        "preview": ("MediaPreviewImage", "object", ()),
    },
    "MediaPreviewImage": {"image": ("Image", "object", ()), "status": ("String", "scalar", ())},
    "Image": {name: ("Scalar", "scalar", ()) for name in ("url", "altText", "width", "height")},
    "ProductVariant": {
        **{
            name: ("Scalar", "scalar", ())
            for name in (
                "id",
                "legacyResourceId",
                "sku",
                "title",
                "price",
                "compareAtPrice",
                "barcode",
                "inventoryQuantity",
            )
        },
        "selectedOptions": ("SelectedOption", "list", ()),
    },
    "SelectedOption": {"name": ("String", "scalar", ()), "value": ("String", "scalar", ())},
}
CONNECTION_FIELDS = {"pageInfo", "nodes", "edges"}


class GraphQLError(Exception):
    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


# --- a small GraphQL parser (the subset queries use: no fragments by name, no directives) --------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<spread>\.\.\.)|(?P<punct>[{}():!$,\[\]=])|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r'|(?P<number>-?\d+(?:\.\d+)?)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<comment>#[^\n]*))'
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise GraphQLError(f"Parse error on {text[position : position + 12]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "comment":
            found.append((kind, match.group(kind)))
    return found


@dataclass
class Selection:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)  # value or ("$", variable name)
    children: list[Selection] | None = None
    on_type: str = ""  # inline fragment `... on Type`


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            raise GraphQLError(f'Parse error on "{token}" ({token_kind.upper()}), expected {value or kind}')
        self.index += 1
        return token

    def document(self) -> tuple[str, dict[str, tuple[str, bool]], list[Selection]]:
        name = ""
        variables: dict[str, tuple[str, bool]] = {}
        if self.peek() == ("name", "query"):
            self.take("query")
            if self.peek()[0] == "name":
                name = self.take(kind="name")
            if self.peek()[1] == "(":
                self.take("(")
                while self.peek()[1] != ")":
                    self.take("$")
                    variable = self.take(kind="name")
                    self.take(":")
                    type_name = self.take(kind="name")
                    required = False
                    if self.peek()[1] == "!":
                        self.take("!")
                        required = True
                    variables[variable] = (type_name, required)
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take(")")
        elif self.peek()[0] == "name":
            raise GraphQLError(f"Operation {self.peek()[1]!r} is not supported here; only queries")
        selections = self.selection_set()
        if self.peek()[0] != "eof":
            raise GraphQLError(f'Parse error on "{self.peek()[1]}": one operation per request')
        return name, variables, selections

    def selection_set(self) -> list[Selection]:
        self.take("{")
        selections = []
        while self.peek()[1] != "}":
            if self.peek()[0] == "spread":
                self.take("...")
                self.take("on")
                on_type = self.take(kind="name")
                selections.append(Selection("...", children=self.selection_set(), on_type=on_type))
                continue
            name = self.take(kind="name")
            arguments: dict[str, Any] = {}
            if self.peek()[1] == "(":
                self.take("(")
                while self.peek()[1] != ")":
                    argument = self.take(kind="name")
                    self.take(":")
                    arguments[argument] = self.value()
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take(")")
            children = self.selection_set() if self.peek()[1] == "{" else None
            selections.append(Selection(name, arguments, children))
        self.take("}")
        if not selections:
            raise GraphQLError("Parse error: empty selection set")
        return selections

    def value(self) -> Any:
        kind, token = self.peek()
        if token == "$":
            self.take("$")
            return ("$", self.take(kind="name"))
        self.index += 1
        if kind == "number":
            return float(token) if "." in token else int(token)
        if kind == "string":
            return json.loads(token)
        if kind == "name":
            return {"true": True, "false": False, "null": None}.get(token, token)
        raise GraphQLError(f'Parse error on "{token}": expected a value')


# --- data ------------------------------------------------------------------------------------------------------


@dataclass
class StandInVariant:
    id: int
    sku: str
    title: str = "Default Title"
    price: str = "0.00"
    compare_at_price: str | None = None
    barcode: str = ""
    options: list[tuple[str, str]] = field(default_factory=lambda: [("Title", "Default Title")])


@dataclass
class StandInProduct:
    id: int
    handle: str
    title: str
    description_html: str = ""
    vendor: str = ""
    status: str = "ACTIVE"
    updated_at: str = "2025-01-01T00:00:00Z"
    image_url: str = ""
    variants: list[StandInVariant] = field(default_factory=list)


@dataclass
class Fault:
    kind: str  # "429" | "throttled" | "500"
    remaining: int
    retry_after: str = "0.05"


@dataclass
class Received:
    version: str
    operation: str
    variables: dict[str, Any]
    status: int
    requested_cost: int | None = None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


class ShopifyStandIn:
    """The stand-in server. Start it (in a background thread) with `start()` or a `with` block."""

    def __init__(
        self,
        *,
        access_token: str = "shpat_standin_token_0001",
        shop_domain: str = "standin.myshopify.com",
        currency: str = "TWD",
        maximum: float = 1000.0,
        restore_rate: float = 50.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.access_token = access_token
        self.shop_domain = shop_domain
        self.currency = currency
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.host = host
        self.port = port
        self.products: list[StandInProduct] = []
        self.faults: list[Fault] = []
        self.received: list[Received] = []
        self._available = maximum
        self._filled_at = time.monotonic()
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()

    # life cycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ShopifyStandIn:
        self._thread = threading.Thread(target=self._serve, name="shopify-standin", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the Shopify stand-in did not start")
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start_site())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
        self._loop.close()

    async def _start_site(self) -> None:
        app = web.Application()
        app.router.add_post("/admin/api/{version}/graphql.json", self._graphql)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    def __enter__(self) -> ShopifyStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.products.clear()
            self.faults.clear()
            self.received.clear()
            self._available = self.maximum
            self._filled_at = time.monotonic()

    # test controls

    def add_product(
        self, handle: str, title: str, variants: list[dict[str, Any]], **extra: Any
    ) -> StandInProduct:
        with self._lock:
            product_id = 1000 + len(self.products) + 1
            product = StandInProduct(
                id=product_id,
                handle=handle,
                title=title,
                variants=[
                    StandInVariant(id=product_id * 100 + index, **variant)
                    for index, variant in enumerate(variants)
                ],
                **extra,
            )
            self.products.append(product)
            return product

    def inject(self, kind: str, count: int = 1, *, retry_after: str = "0.05") -> None:
        if kind not in ("429", "throttled", "500"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self.faults.append(Fault(kind, count, retry_after))

    def drain(self, points: float) -> None:
        """Use up bucket points, as if other apps' queries had just run."""
        with self._lock:
            self._refill()
            self._available = max(0.0, self._available - points)

    # the bucket

    def _refill(self) -> None:
        now = time.monotonic()
        self._available = min(self.maximum, self._available + (now - self._filled_at) * self.restore_rate)
        self._filled_at = now

    def _throttle_status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self._available),
            "restoreRate": self.restore_rate,
        }

    def _take_fault(self) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    # the endpoint

    async def _graphql(self, request: web.Request) -> web.Response:
        version = request.match_info["version"]
        raw = await request.read()
        with self._lock:
            return self._answer(request, version, raw)

    def _answer(self, request: web.Request, version: str, raw: bytes) -> web.Response:
        def log(
            status: int, operation: str = "", variables: dict[str, Any] | None = None, cost: int | None = None
        ) -> None:
            self.received.append(Received(version, operation, variables or {}, status, cost))

        if not VERSION.match(request.path):
            log(404)
            return web.json_response({"errors": "Not Found"}, status=404)
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            log(401)
            return web.json_response({"errors": AUTH_ERROR}, status=401)
        fault = self._take_fault()
        if fault is not None and fault.kind == "429":
            log(429)
            return web.json_response(
                {"errors": RATE_ERROR}, status=429, headers={"Retry-After": fault.retry_after}
            )
        if fault is not None and fault.kind == "500":
            log(500)
            return web.json_response({"errors": "Internal Server Error"}, status=500)
        if not request.content_type.startswith("application/json"):
            log(400)
            return web.json_response(
                {"errors": {"query": "Required parameter missing or invalid"}}, status=400
            )
        try:
            body = json.loads(raw)
        except ValueError:
            log(400)
            return web.json_response(
                {"errors": {"query": "Required parameter missing or invalid"}}, status=400
            )
        query, variables = (
            body.get("query") if isinstance(body, dict) else None,
            (body or {}).get("variables") or {},
        )
        if not isinstance(query, str) or not isinstance(variables, dict):
            log(400)
            return web.json_response(
                {"errors": {"query": "Required parameter missing or invalid"}}, status=400
            )
        try:
            operation, declared, selections = _Parser(query).document()
            bound = self._bind(declared, variables)
            cost = 1 + self._validate("QueryRoot", selections, bound)
        except GraphQLError as exc:
            log(200, "", variables)
            error = {"message": exc.message, "locations": [{"line": 1, "column": 1}]}
            if exc.code:
                error["extensions"] = {"code": exc.code}
            return web.json_response({"errors": [error]})
        self._refill()
        extensions: dict[str, Any] = {"requestedQueryCost": cost, "actualQueryCost": None}
        if cost > self.maximum:
            log(200, operation, variables, cost)
            message = (
                f"Query cost is {cost}, which exceeds the single query max cost limit ({int(self.maximum)})."
            )
            return web.json_response(
                {
                    "errors": [
                        {
                            "message": message,
                            "extensions": {
                                "code": "MAX_COST_EXCEEDED",
                                "cost": cost,
                                "maxCost": self.maximum,
                            },
                        }
                    ],
                    "extensions": {"cost": {**extensions, "throttleStatus": self._throttle_status()}},
                }
            )
        if (fault is not None and fault.kind == "throttled") or cost > self._available:
            if fault is not None:
                self._available = 0.0
            log(200, operation, variables, cost)
            return web.json_response(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": {**extensions, "throttleStatus": self._throttle_status()}},
                }
            )
        try:
            data, actual = self._execute("QueryRoot", None, selections, bound)
        except GraphQLError as exc:
            log(200, operation, variables, cost)
            return web.json_response({"errors": [{"message": exc.message}], "data": None})
        actual = min(cost, 1 + actual)
        self._available -= actual
        log(200, operation, variables, cost)
        return web.json_response(
            {
                "data": data,
                "extensions": {
                    "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": actual,
                        "throttleStatus": self._throttle_status(),
                    }
                },
            }
        )

    # validation and cost

    @staticmethod
    def _bind(declared: dict[str, tuple[str, bool]], variables: dict[str, Any]) -> dict[str, Any]:
        for name in variables:
            if name not in declared:
                raise GraphQLError(f"Variable ${name} is not defined by operation")
        bound = {}
        for name, (type_name, required) in declared.items():
            value = variables.get(name)
            if value is None:
                if required:
                    raise GraphQLError(
                        f"Variable ${name} of type {type_name}! was provided invalid value",
                        "INVALID_VARIABLE",
                    )
                bound[name] = None
                continue
            ok = {
                "Int": isinstance(value, int) and not isinstance(value, bool),
                "String": isinstance(value, str),
                "ID": isinstance(value, str) and bool(re.match(r"^gid://shopify/[A-Za-z]+/\d+$", value)),
                "Boolean": isinstance(value, bool),
            }.get(type_name)
            if ok is None:
                raise GraphQLError(f"Unknown type {type_name!r} for variable ${name}")
            if not ok:
                raise GraphQLError(
                    f"Variable ${name} of type {type_name}{'!' if required else ''} was provided "
                    f"invalid value",
                    "INVALID_VARIABLE",
                )
            bound[name] = value
        return bound

    @staticmethod
    def _argument(selection: Selection, name: str, bound: dict[str, Any]) -> Any:
        value = selection.arguments.get(name)
        if isinstance(value, tuple) and value[:1] == ("$",):
            if value[1] not in bound:
                raise GraphQLError(f"Variable ${value[1]} is used by {selection.name} but not declared")
            return bound[value[1]]
        return value

    def _validate(self, type_name: str, selections: list[Selection], bound: dict[str, Any]) -> int:
        cost = 0
        fields = SCHEMA[type_name]
        for selection in selections:
            if selection.name == "...":
                if selection.on_type not in SCHEMA:
                    raise GraphQLError(
                        f"No such type {selection.on_type}, so it can't be a fragment condition"
                    )
                cost += self._validate(selection.on_type, selection.children or [], bound)
                continue
            if selection.name == "__typename":
                continue
            if selection.name not in fields:
                raise GraphQLError(
                    f"Field '{selection.name}' doesn't exist on type '{type_name}'", "undefinedField"
                )
            target, kind, arguments = fields[selection.name]
            for argument in selection.arguments:
                if argument not in arguments:
                    raise GraphQLError(
                        f"Field '{selection.name}' doesn't accept argument '{argument}'",
                        "argumentNotAccepted",
                    )
            if kind == "scalar":
                if selection.children is not None:
                    raise GraphQLError(
                        f"Selections can't be made on scalars (field '{selection.name}' returns "
                        f"{target} but has selections)"
                    )
                continue
            if selection.children is None:
                raise GraphQLError(
                    f"Field must have selections (field '{selection.name}' returns {target} but "
                    f"has no selections. Did you mean '{selection.name} {{ ... }}'?)"
                )
            if kind in ("object", "list"):
                for argument in arguments:
                    if argument == "id" and self._argument(selection, "id", bound) is None:
                        raise GraphQLError(f"Field '{selection.name}' is missing required arguments: id")
                cost += 1 + self._validate(target, selection.children, bound)
                continue
            first = self._argument(selection, "first", bound)
            last = self._argument(selection, "last", bound)
            if first is None and last is None:
                raise GraphQLError("you must provide one of first or last")
            size = first if first is not None else last
            if not isinstance(size, int) or size < 0 or size > MAX_PAGE:
                raise GraphQLError(f"The page size for '{selection.name}' must be between 0 and {MAX_PAGE}")
            per_node = 0
            for child in selection.children:
                if child.name not in CONNECTION_FIELDS:
                    raise GraphQLError(
                        f"Field '{child.name}' doesn't exist on type '{target}Connection'", "undefinedField"
                    )
                if child.children is None:
                    raise GraphQLError(f"Field must have selections (field '{child.name}')")
                if child.name == "pageInfo":
                    self._validate("PageInfo", child.children, bound)
                elif child.name == "nodes":
                    per_node = max(per_node, 1 + self._validate(target, child.children, bound))
                else:
                    for edge_field in child.children:
                        if edge_field.name == "node":
                            per_node = max(
                                per_node, 1 + self._validate(target, edge_field.children or [], bound)
                            )
                        elif edge_field.name != "cursor":
                            raise GraphQLError(
                                f"Field '{edge_field.name}' doesn't exist on type '{target}Edge'"
                            )
            cost += 2 + size * per_node
        return cost

    # execution (only what was asked for)

    def _execute(
        self, type_name: str, source: Any, selections: list[Selection], bound: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        cost = 0
        for selection in selections:
            if selection.name == "...":
                if selection.on_type == type_name:
                    part, extra = self._execute(type_name, source, selection.children or [], bound)
                    result.update(part)
                    cost += extra
                continue
            if selection.name == "__typename":
                result["__typename"] = type_name
                continue
            target, kind, _ = SCHEMA[type_name][selection.name]
            value = self._resolve(type_name, source, selection, bound)
            if kind == "scalar":
                result[selection.name] = value
            elif kind == "list":
                result[selection.name] = [
                    self._execute(target, item, selection.children or [], bound)[0] for item in value
                ]
            elif kind == "object":
                if value is None:
                    result[selection.name] = None
                else:
                    result[selection.name], extra = self._execute(
                        target, value, selection.children or [], bound
                    )
                    cost += 1 + extra
            else:
                items, has_next, start = value
                page: dict[str, Any] = {}
                for child in selection.children or []:
                    if child.name == "pageInfo":
                        info = {
                            "hasNextPage": has_next,
                            "hasPreviousPage": start > 0,
                            "startCursor": _b64(f"{target}:{start}") if items else None,
                            "endCursor": _b64(f"{target}:{start + len(items) - 1}") if items else None,
                        }
                        page["pageInfo"] = {c.name: info[c.name] for c in child.children or []}
                    elif child.name == "nodes":
                        nodes = []
                        for item in items:
                            node, extra = self._execute(target, item, child.children or [], bound)
                            nodes.append(node)
                            cost += 1 + extra
                        page["nodes"] = nodes
                    else:
                        edges = []
                        for offset, item in enumerate(items):
                            edge: dict[str, Any] = {}
                            for edge_field in child.children or []:
                                if edge_field.name == "cursor":
                                    edge["cursor"] = _b64(f"{target}:{start + offset}")
                                else:
                                    edge["node"], extra = self._execute(
                                        target, item, edge_field.children or [], bound
                                    )
                                    cost += 1 + extra
                            edges.append(edge)
                        page["edges"] = edges
                result[selection.name] = page
                cost += 2
        return result, cost

    def _page(
        self, items: list[Any], type_name: str, selection: Selection, bound: dict[str, Any]
    ) -> tuple[list[Any], bool, int]:
        first = self._argument(selection, "first", bound)
        after = self._argument(selection, "after", bound)
        start = 0
        if after:
            kind, _, index = _unb64(after).partition(":")
            if kind != type_name or not index.isdigit():
                raise GraphQLError(f"Invalid cursor for current pagination sort: {after!r}")
            start = int(index) + 1
        size = first if first is not None else MAX_PAGE
        chunk = items[start : start + size]
        return chunk, start + size < len(items), start

    def _resolve(self, type_name: str, source: Any, selection: Selection, bound: dict[str, Any]) -> Any:
        name = selection.name
        if type_name == "QueryRoot":
            if name == "shop":
                return {
                    "name": "Stand-in",
                    "currencyCode": self.currency,
                    "myshopifyDomain": self.shop_domain,
                }
            if name == "products":
                return self._page(sorted(self.products, key=lambda p: p.id), "Product", selection, bound)
            wanted = self._argument(selection, "id", bound)
            return next((p for p in self.products if f"gid://shopify/Product/{p.id}" == wanted), None)
        if type_name in ("Shop", "Image", "SelectedOption", "MediaPreviewImage"):
            return source.get(name) if isinstance(source, dict) else None
        if type_name == "PageInfo":
            return None
        if type_name == "Media":
            return (
                {"image": {"url": source, "altText": "", "width": 800, "height": 800}}
                if name == "preview"
                else ("IMAGE" if name == "mediaContentType" else "")
            )
        if type_name == "Product":
            product: StandInProduct = source
            return (
                {
                    "id": f"gid://shopify/Product/{product.id}",
                    "legacyResourceId": str(product.id),
                    "handle": product.handle,
                    "title": product.title,
                    "descriptionHtml": product.description_html,
                    "vendor": product.vendor,
                    "status": product.status,
                    "updatedAt": product.updated_at,
                    "createdAt": product.updated_at,
                    "productType": "",
                    "tags": [],
                    "featuredMedia": product.image_url or None,
                    "variants": None,
                }[name]
                if name != "variants"
                else self._page(product.variants, "ProductVariant", selection, bound)
            )
        variant: StandInVariant = source
        return {
            "id": f"gid://shopify/ProductVariant/{variant.id}",
            "legacyResourceId": str(variant.id),
            "sku": variant.sku,
            "title": variant.title,
            "price": variant.price,
            "compareAtPrice": variant.compare_at_price,
            "barcode": variant.barcode,
            "inventoryQuantity": 0,
            "selectedOptions": [{"name": n, "value": v} for n, v in variant.options],
        }[name]


# --- webhooks signed like Shopify ------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body, keyed with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    secret: str,
    body: bytes,
    *,
    topic: str,
    shop_domain: str,
    api_version: str = "2025-07",
    webhook_id: str | None = None,
    event_id: str | None = None,
    triggered_at: str | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
    }


def deliver(
    url: str, secret: str, body: bytes, *, timeout: float = 5.0, **headers: Any
) -> tuple[int, dict[str, Any]]:
    """POST one signed webhook to `url` (e.g. omo's /webhooks/shopify/<id>); returns (status, JSON body)."""
    import urllib3

    response = urllib3.request(
        "POST",
        url,
        body=body,
        headers=webhook_headers(secret, body, **headers),
        timeout=timeout,
        retries=False,
    )
    try:
        answer = json.loads(response.data or b"{}")
    except ValueError:
        answer = {"raw": response.data.decode(errors="replace")}
    return response.status, answer
