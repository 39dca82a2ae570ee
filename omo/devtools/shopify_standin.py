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

The query subset, its parser and its validation are in omo/devtools/shopify_graphql.py; webhooks
signed like Shopify's, to send to omo, in omo/devtools/shopify_webhooks.py. This module holds the
stand-in's state (products, bucket, faults) and its HTTP app.

Python use: `with ShopifyStandIn(access_token="shpat_…") as shop: shop.add_product(...); shop.url`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from omo.devtools.shopify_graphql import (
    MAX_PAGE,
    SCHEMA,
    GraphQLError,
    Parser,
    Selection,
    argument_value,
    bind,
    validate,
)

VERSION = re.compile(r"^/admin/api/(?P<version>\d{4}-(01|04|07|10))/graphql\.json$")
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_ERROR = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


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
        runner = self._loop.run_until_complete(self._start_site())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    async def _start_site(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/admin/api/{version}/graphql.json", self._graphql)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.port = runner.addresses[0][1]  # the port the system picked when asked for 0
        return runner

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
            operation, declared, selections = Parser(query).document()
            bound = bind(declared, variables)
            cost = 1 + validate("QueryRoot", selections, bound)
        except GraphQLError as exc:
            log(200, "", variables)
            error: dict[str, object] = {"message": exc.message, "locations": [{"line": 1, "column": 1}]}
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
        first = argument_value(selection, "first", bound)
        after = argument_value(selection, "after", bound)
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
            wanted = argument_value(selection, "id", bound)
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
