"""Shopify's shapes → ours: REST order, refund, customer and product JSON (webhook bodies) and the
GraphQL product nodes of the Admin API. Pure functions, no database.

Every refusal is a MappingError naming the Shopify field (e.g. ``line_items[2].price``).
Amounts are converted from Shopify's decimal strings to integer minor units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils.dateparse import parse_datetime
from django.utils.html import strip_tags
from pydantic import ValidationError

from omo.commerce.refs import clean_ref
from omo.commerce.schemas import OrderIn, RefundIn
from omo.core.errors import FieldError
from omo.core.money import to_minor

SOURCE = "shopify"
REF_ATTRIBUTES = ("ref", "omo_ref")  # cart attribute names (note_attributes) that carry a clerk ref
PAID = {"paid", "partially_refunded", "refunded"}
NOT_YET_PAID = {"pending", "authorized", "partially_paid", "unpaid", ""}


class MappingError(FieldError, ValueError):
    pass


# --- small readers ------------------------------------------------------------------------------------------


def timestamp(document: dict[str, Any], key: str, *, required: bool = False) -> dt.datetime | None:
    raw = document.get(key)
    if raw in (None, ""):
        if required:
            raise MappingError(key, "is required")
        return None
    parsed = parse_datetime(str(raw))
    if parsed is None or parsed.tzinfo is None:
        raise MappingError(key, f"not an ISO 8601 time with offset: {raw!r}")
    return parsed


def amount(value: Any, currency: str, field_name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        return to_minor(str(value), currency)
    except ValueError as exc:
        raise MappingError(field_name, str(exc)) from exc


def shopify_id(document: dict[str, Any], key: str = "id") -> str:
    raw = document.get(key)
    if raw in (None, "") or not str(raw).isdigit():
        raise MappingError(key, f"must be a numeric Shopify id, got {raw!r}")
    return str(raw)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# --- the clerk ref --------------------------------------------------------------------------------------------


def order_ref(order: dict[str, Any]) -> str:
    """The clerk ref an order carries: a cart attribute `ref`/`omo_ref` first, else `?ref=` of landing_site."""
    for attribute in order.get("note_attributes") or ():
        if isinstance(attribute, dict) and _text(attribute.get("name")).lower() in REF_ATTRIBUTES:
            ref = clean_ref(_text(attribute.get("value")))
            if ref:
                return ref
    landing = _text(order.get("landing_site"))
    if landing:
        for value in parse_qs(urlsplit(landing).query).get("ref", []):
            ref = clean_ref(value)
            if ref:
                return ref
    return ""


# --- orders ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopifyContact:
    shopify_customer_id: str
    name: str
    email: str
    phone: str


def order_contact(order: dict[str, Any]) -> ShopifyContact:
    customer = order.get("customer") or {}
    billing = order.get("billing_address") or {}
    shipping = order.get("shipping_address") or {}
    name = " ".join(p for p in (_text(customer.get("last_name")), _text(customer.get("first_name"))) if p)
    name = name or _text(billing.get("name")) or _text(shipping.get("name"))
    raw_id = customer.get("id")
    return ShopifyContact(
        shopify_customer_id=str(raw_id) if raw_id not in (None, "") else "",
        name=name[:120],
        email=_text(order.get("email")) or _text(customer.get("email")) or _text(order.get("contact_email")),
        phone=_text(order.get("phone"))
        or _text(customer.get("phone"))
        or _text(billing.get("phone"))
        or _text(shipping.get("phone")),
    )


def order_status(order: dict[str, Any]) -> str:
    financial = _text(order.get("financial_status")).lower()
    if order.get("cancelled_at") or financial == "voided":
        return "cancelled"
    if financial in PAID:
        return "fulfilled" if _text(order.get("fulfillment_status")).lower() == "fulfilled" else "paid"
    if financial in NOT_YET_PAID:
        return "placed"
    raise MappingError("financial_status", f"unknown value {financial!r}")


def _allocated(allocations: Any, currency: str, prefix: str) -> int:
    return sum(
        amount(item.get("amount"), currency, f"{prefix}.discount_allocations[{index}].amount")
        for index, item in enumerate(allocations or ())
        if isinstance(item, dict)
    )


def order_in(order: dict[str, Any], *, sales_channel: str, customer: dict[str, str] | None) -> OrderIn:
    """The OrderIn for a REST Order resource. Discounts are the per-line allocations (Shopify spreads
    order-level codes over the lines), so the computed total must equal `total_price`."""
    external_id = shopify_id(order)
    currency = _text(order.get("currency")).upper() or "TWD"
    lines = []
    for index, item in enumerate(order.get("line_items") or ()):
        prefix = f"line_items[{index}]"
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            raise MappingError(f"{prefix}.quantity", f"must be a positive whole number, got {quantity!r}")
        unit_price = amount(item.get("price"), currency, f"{prefix}.price")
        if item.get("discount_allocations") is not None:
            discount = _allocated(item.get("discount_allocations"), currency, prefix)
        else:
            discount = amount(item.get("total_discount"), currency, f"{prefix}.total_discount")
        title = _text(item.get("name")) or " ".join(
            p for p in (_text(item.get("title")), _text(item.get("variant_title"))) if p
        )
        lines.append(
            {
                "sku": _text(item.get("sku"))[:64],
                "title": (title or f"Shopify item {item.get('id', index)}")[:250],
                "quantity": quantity,
                "unit_price": unit_price,
                "discount": min(discount, quantity * unit_price),
            }
        )
    if not lines:
        raise MappingError("line_items", "an order needs at least one line item")
    shipping = 0
    for index, item in enumerate(order.get("shipping_lines") or ()):
        prefix = f"shipping_lines[{index}]"
        shipping += amount(item.get("price"), currency, f"{prefix}.price") - _allocated(
            item.get("discount_allocations"), currency, prefix
        )
    tax = 0 if order.get("taxes_included", True) else amount(order.get("total_tax"), currency, "total_tax")
    codes = [
        {"code": _text(code.get("code"))[:60], "kind": "shopify_code", "amount": 0}
        for code in order.get("discount_codes") or ()
        if isinstance(code, dict) and _text(code.get("code"))
    ]
    placed_at = timestamp(order, "created_at", required=True)
    status = order_status(order)
    data = {
        "source": SOURCE,
        "external_id": external_id,
        "name": _text(order.get("name"))[:60],
        "sales_channel": sales_channel,
        "placed_at": placed_at,
        "currency": currency,
        "customer": customer,
        "lines": lines,
        # Codes travel with a zero amount: their money is already in the line allocations; attribution
        # reads the codes (clerk coupon codes).
        "discounts": codes[:20],
        "shipping_total": max(shipping, 0),
        "tax_total": tax,
        "total": amount(order.get("total_price"), currency, "total_price"),
        "status": status,
        "paid_at": (timestamp(order, "processed_at") or placed_at)
        if status in ("paid", "fulfilled")
        else None,
        "ref": order_ref(order),
        "note": _text(order.get("note"))[:2000],
    }
    try:
        return OrderIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "order"
        raise MappingError(where.replace("lines.", "line_items."), error["msg"]) from exc


def line_item_ids(order: dict[str, Any]) -> list[str]:
    return [str(item.get("id", "")) for item in order.get("line_items") or ()]


# --- refunds --------------------------------------------------------------------------------------------------


def refund_in(refund: dict[str, Any], *, currency: str, line_ids: dict[str, int]) -> RefundIn | None:
    """RefundIn for a REST Refund resource, or None when no money moved (a restock-only refund).

    line_ids maps a Shopify line item id to our OrderLine id."""
    refund_id = shopify_id(refund)
    money = 0
    for index, transaction in enumerate(refund.get("transactions") or ()):
        if (
            _text(transaction.get("kind")).lower() == "refund"
            and _text(transaction.get("status")).lower() == "success"
        ):
            money += amount(transaction.get("amount"), currency, f"transactions[{index}].amount")
    if money <= 0:
        return None
    lines = []
    for index, item in enumerate(refund.get("refund_line_items") or ()):
        line_id = line_ids.get(str(item.get("line_item_id")))
        if line_id is None:
            raise MappingError(
                f"refund_line_items[{index}].line_item_id",
                f"{item.get('line_item_id')!r} is not a line of the order",
            )
        lines.append({"line_id": line_id, "quantity": item.get("quantity")})
    return RefundIn(
        external_id=f"shopify:{refund_id}", amount=money, reason=_text(refund.get("note"))[:250], lines=lines
    )


# --- customers ------------------------------------------------------------------------------------------------


def customer_fields(customer: dict[str, Any]) -> ShopifyContact:
    default_address = customer.get("default_address") or {}
    name = " ".join(p for p in (_text(customer.get("last_name")), _text(customer.get("first_name"))) if p)
    return ShopifyContact(
        shopify_customer_id=shopify_id(customer),
        name=name[:120],
        email=_text(customer.get("email")),
        phone=_text(customer.get("phone")) or _text(default_address.get("phone")),
    )


# Shopify's REST Customer `email_marketing_consent` / `sms_marketing_consent` → our consent platform.
CONSENT_FIELDS = {"email_marketing_consent": "email", "sms_marketing_consent": "sms"}
CONSENT_STATES = ("subscribed", "unsubscribed", "not_subscribed", "pending", "invalid", "redacted")
# Only "subscribed" grants marketing; pending (double opt-in not confirmed yet) and the rest do not.
GRANTING_STATES = ("subscribed",)
# Decisions the customer (or the store for them) took; "not_subscribed" without a date is the
# absence of one and is not recorded.
UNDATED_NON_DECISIONS = ("not_subscribed",)


@dataclass(frozen=True)
class MarketingConsent:
    field: str  # the Shopify field, e.g. "email_marketing_consent"
    platform: str  # "email" | "sms"
    state: str
    opt_in_level: str
    updated_at: dt.datetime | None  # consent_updated_at

    @property
    def granted(self) -> bool:
        return self.state in GRANTING_STATES

    @property
    def note(self) -> str:
        level = f" ({self.opt_in_level})" if self.opt_in_level else ""
        return f"Shopify {self.field}: {self.state}{level}"[:255]


def marketing_consents(customer: dict[str, Any]) -> tuple[list[MarketingConsent], list[str]]:
    """The consent objects of a REST customer (also the `customer` inside an order), and one note per
    object that could not be read (named by its field; the rest of the delivery still applies)."""
    found: list[MarketingConsent] = []
    problems: list[str] = []
    for field_name, platform in CONSENT_FIELDS.items():
        raw = customer.get(field_name)
        if raw is None:
            continue  # no email / phone on the customer, or trimmed by include_fields
        if not isinstance(raw, dict):
            problems.append(f"{field_name}: must be an object, got {type(raw).__name__}")
            continue
        state = _text(raw.get("state")).lower()
        if state not in CONSENT_STATES:
            problems.append(
                f"{field_name}.state: {raw.get('state')!r} is not one of {', '.join(CONSENT_STATES)}"
            )
            continue
        try:
            updated_at = timestamp(raw, "consent_updated_at")
        except MappingError as exc:
            problems.append(f"{field_name}.{exc.field}: {exc.message}")
            continue
        found.append(
            MarketingConsent(
                field=field_name,
                platform=platform,
                state=state,
                opt_in_level=_text(raw.get("opt_in_level"))[:40],
                updated_at=updated_at,
            )
        )
    return found, problems


# --- products -------------------------------------------------------------------------------------------------


@dataclass
class VariantSpec:
    shopify_id: str
    sku: str
    title: str
    price: int
    compare_at_price: int | None
    barcode: str
    options: dict[str, str]


@dataclass
class ProductSpec:
    shopify_id: str
    handle: str
    title: str
    description: str
    vendor: str
    status: str
    updated_at: dt.datetime | None
    variants: list[VariantSpec] = field(default_factory=list)
    image_urls: list[str] = field(default_factory=list)


STATUSES = {"active": "active", "draft": "draft", "archived": "archived", "unlisted": "active"}


def _status(raw: Any, field_name: str) -> str:
    value = _text(raw).lower() or "active"
    if value not in STATUSES:
        raise MappingError(field_name, f"unknown product status {raw!r}")
    return STATUSES[value]


def _variant_title(raw: Any) -> str:
    title = _text(raw)
    return "" if title == "Default Title" else title[:120]


def _sku(raw: Any, variant_id: str) -> str:
    # Shopify allows variants without a SKU; ours are keyed by SKU, so such a variant gets a stable one.
    return _text(raw)[:64] or f"SHOPIFY-{variant_id}"


def _compare_at(value: Any, price: int, currency: str, field_name: str) -> int | None:
    compare = amount(value, currency, field_name) if value not in (None, "") else None
    return compare if compare and compare > price else None


def product_from_rest(product: dict[str, Any], *, currency: str) -> ProductSpec:
    """A REST Product resource (products/create and products/update webhook bodies)."""
    options = [
        _text(option.get("name")) for option in product.get("options") or () if isinstance(option, dict)
    ]
    variants = []
    for index, variant in enumerate(product.get("variants") or ()):
        prefix = f"variants[{index}]"
        variant_id = shopify_id(variant) if variant.get("id") is not None else str(index)
        price = amount(variant.get("price"), currency, f"{prefix}.price")
        values = [variant.get(f"option{n}") for n in (1, 2, 3)]
        variants.append(
            VariantSpec(
                shopify_id=variant_id,
                sku=_sku(variant.get("sku"), variant_id),
                title=_variant_title(variant.get("title")),
                price=price,
                compare_at_price=_compare_at(
                    variant.get("compare_at_price"), price, currency, f"{prefix}.compare_at_price"
                ),
                barcode=_text(variant.get("barcode"))[:64],
                options={
                    name: _text(value)
                    for name, value in zip(options, values, strict=False)
                    if name and value and _text(value) != "Default Title"
                },
            )
        )
    images = [_text(image.get("src")) for image in product.get("images") or () if isinstance(image, dict)]
    return ProductSpec(
        shopify_id=shopify_id(product),
        handle=_text(product.get("handle"))[:120],
        title=_text(product.get("title"))[:200],
        description=strip_tags(_text(product.get("body_html"))),
        vendor=_text(product.get("vendor"))[:120],
        status=_status(product.get("status"), "status"),
        updated_at=timestamp(product, "updated_at"),
        variants=variants,
        image_urls=[url for url in images if url][:10],
    )


def product_from_graphql(
    node: dict[str, Any], *, currency: str, variants: list[dict[str, Any]]
) -> ProductSpec:
    """A GraphQL Product node (see omo/connectors/shopify/client.py PRODUCTS_QUERY) with all its variant nodes."""
    specs = []
    for index, variant in enumerate(variants):
        prefix = f"variants[{index}]"
        variant_id = _text(variant.get("legacyResourceId"))
        if not variant_id.isdigit():
            raise MappingError(f"{prefix}.legacyResourceId", f"must be numeric, got {variant_id!r}")
        price = amount(variant.get("price"), currency, f"{prefix}.price")
        specs.append(
            VariantSpec(
                shopify_id=variant_id,
                sku=_sku(variant.get("sku"), variant_id),
                title=_variant_title(variant.get("title")),
                price=price,
                compare_at_price=_compare_at(
                    variant.get("compareAtPrice"), price, currency, f"{prefix}.compareAtPrice"
                ),
                barcode=_text(variant.get("barcode"))[:64],
                options={
                    _text(option.get("name")): _text(option.get("value"))
                    for option in variant.get("selectedOptions") or ()
                    if _text(option.get("value")) and _text(option.get("value")) != "Default Title"
                },
            )
        )
    media = ((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}
    product_id = _text(node.get("legacyResourceId"))
    if not product_id.isdigit():
        raise MappingError("legacyResourceId", f"must be numeric, got {product_id!r}")
    return ProductSpec(
        shopify_id=product_id,
        handle=_text(node.get("handle"))[:120],
        title=_text(node.get("title"))[:200],
        description=strip_tags(_text(node.get("descriptionHtml"))),
        vendor=_text(node.get("vendor"))[:120],
        status=_status(node.get("status"), "status"),
        updated_at=timestamp(node, "updatedAt"),
        variants=specs,
        image_urls=[_text(media.get("url"))] if _text(media.get("url")) else [],
    )
