"""The part of Shopify's Admin GraphQL API the Shopify stand-in serves, and how it reads a query.

A small parser for the subset queries use (no fragments by name, no directives), the schema subset
(QueryRoot.shop, .products, .product; Product, ProductVariant, Media…), and validation with
Shopify's wording: variables against their declarations, fields and arguments against the schema,
page sizes within 250; validating a query also gives its requested cost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

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


class Parser:
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


# --- validation and cost -----------------------------------------------------------------------------------


def bind(declared: dict[str, tuple[str, bool]], variables: dict[str, Any]) -> dict[str, Any]:
    for name in variables:
        if name not in declared:
            raise GraphQLError(f"Variable ${name} is not defined by operation")
    bound: dict[str, Any] = {}
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
                f"Variable ${name} of type {type_name}{'!' if required else ''} was provided invalid value",
                "INVALID_VARIABLE",
            )
        bound[name] = value
    return bound


def argument_value(selection: Selection, name: str, bound: dict[str, Any]) -> Any:
    value = selection.arguments.get(name)
    if isinstance(value, tuple) and value[:1] == ("$",):
        if value[1] not in bound:
            raise GraphQLError(f"Variable ${value[1]} is used by {selection.name} but not declared")
        return bound[value[1]]
    return value


def validate(type_name: str, selections: list[Selection], bound: dict[str, Any]) -> int:
    cost = 0
    fields = SCHEMA[type_name]
    for selection in selections:
        if selection.name == "...":
            if selection.on_type not in SCHEMA:
                raise GraphQLError(f"No such type {selection.on_type}, so it can't be a fragment condition")
            cost += validate(selection.on_type, selection.children or [], bound)
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
                if argument == "id" and argument_value(selection, "id", bound) is None:
                    raise GraphQLError(f"Field '{selection.name}' is missing required arguments: id")
            cost += 1 + validate(target, selection.children, bound)
            continue
        first = argument_value(selection, "first", bound)
        last = argument_value(selection, "last", bound)
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
                validate("PageInfo", child.children, bound)
            elif child.name == "nodes":
                per_node = max(per_node, 1 + validate(target, child.children, bound))
            else:
                for edge_field in child.children:
                    if edge_field.name == "node":
                        per_node = max(per_node, 1 + validate(target, edge_field.children or [], bound))
                    elif edge_field.name != "cursor":
                        raise GraphQLError(f"Field '{edge_field.name}' doesn't exist on type '{target}Edge'")
        cost += 2 + size * per_node
    return cost
