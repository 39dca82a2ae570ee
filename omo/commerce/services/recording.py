"""Recording one order from any sales channel (API, CSV, POS, Shopify): resolve its store, clerk,
customer and variants, write it with its lines, stock, points and events."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from omo.catalog import inventory
from omo.catalog.models import Location, Variant
from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.commerce.schemas import OrderIn
from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.staff.models import Store, User

logger = logging.getLogger(__name__)


class OrderError(FieldError, ValueError):
    """A refusal that names the field and the problem: 422 for a bad value, 409 for an order whose state
    forbids the verb, 404 for what the shopper may not see."""


# --- recording orders from any sales channel ----------------------------------------------------


@dataclass
class _Resolved:
    store: Store | None = None
    staff: User | None = None
    variants: dict[str, Variant] = field(default_factory=dict)


def _resolve(
    brand: Brand,
    data: OrderIn,
    *,
    store_cache: dict[str, Store | None] | None = None,
    variant_cache: dict[str, Variant] | None = None,
    staff_cache: dict[str, User | None] | None = None,
) -> _Resolved:
    resolved = _Resolved()
    if data.store_code:
        stores = store_cache if store_cache is not None else {}
        if data.store_code not in stores:
            stores[data.store_code] = Store.objects.filter(brand=brand, code=data.store_code).first()
        resolved.store = stores[data.store_code]
        if resolved.store is None:
            raise OrderError("store_code", f"no store with code {data.store_code!r}")
    if data.staff_code:
        staff = staff_cache if staff_cache is not None else {}
        if data.staff_code not in staff:
            staff[data.staff_code] = User.objects.filter(brand=brand, employee_code=data.staff_code).first()
        resolved.staff = staff[data.staff_code]
    skus = {line.sku for line in data.lines if line.sku}
    cache = variant_cache if variant_cache is not None else {}
    missing = [sku for sku in skus if sku not in cache]
    if missing:
        for variant in Variant.objects.filter(brand=brand, sku__in=missing).select_related("product"):
            cache[variant.sku] = variant
    for index, line in enumerate(data.lines):
        if line.sku and line.sku not in cache and not line.title:
            raise OrderError(f"lines[{index}].sku", f"unknown sku {line.sku!r} and no title given")
    resolved.variants = {sku: cache[sku] for sku in skus if sku in cache}
    return resolved


def check_order(brand: Brand, data: OrderIn) -> None:
    if data.currency != brand.currency:
        raise OrderError("currency", f"{data.currency} differs from the brand currency {brand.currency}")
    if data.total is not None and data.total != data.computed_total():
        raise OrderError(
            "total",
            f"{data.total} does not match lines - discounts + shipping + tax = {data.computed_total()}",
        )
    if data.computed_total() < 0:
        raise OrderError("discounts", "discounts exceed the order amount")


def record_order(
    brand: Brand,
    data: OrderIn,
    *,
    actor: Actor | None,
    store_cache: dict[str, Store | None] | None = None,
    variant_cache: dict[str, Variant] | None = None,
) -> tuple[Order, bool]:
    """Idempotent on (source, external_id): a repeat with the same body returns the existing order
    untouched; a repeat with another body is refused (409) naming the fields that differ."""
    existing = Order.objects.filter(brand=brand, source=data.source, external_id=data.external_id).first()
    if existing is not None:
        check_same_request(existing, data)
        return existing, False
    check_order(brand, data)
    resolved = _resolve(brand, data, store_cache=store_cache, variant_cache=variant_cache)
    try:
        with transaction.atomic():
            order = _create_recorded_order(brand, data, resolved, actor=actor)
    except IntegrityError:
        existing = Order.objects.filter(brand=brand, source=data.source, external_id=data.external_id).first()
        if existing is None:
            raise
        check_same_request(existing, data)
        return existing, False  # a concurrent request recorded it first
    return order, True


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()  # the same moment in any offset is the same value
    if isinstance(value, dt.date | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
# does, with one encoder instead of a new one per value (request_digest runs ~20 per order).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


@functools.lru_cache(maxsize=4)
def _keyed(secret: str) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hashes for this key, primed (RFC 2104): a copy of each per value
    costs half of what hmac.HMAC's copy and hexdigest do."""
    key = secret.encode()
    if len(key) > 64:  # SHA-256's block size
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(byte ^ 0x36 for byte in key)),
        hashlib.sha256(bytes(byte ^ 0x5C for byte in key)),
    )


def _digest(value: Any) -> str:
    """hmac.new(SECRET_KEY, canonical JSON of value, sha256).hexdigest()[:20]."""
    inner, outer = _keyed(settings.SECRET_KEY)
    inner, outer = inner.copy(), outer.copy()
    inner.update(_CANONICAL.encode(value).encode())
    outer.update(inner.digest())
    return outer.hexdigest()[:20]


def request_digest(data: OrderIn) -> dict[str, str]:
    """Field name → keyed digest of the request's value (defaults included, so leaving a field out
    and sending its default are the same request)."""
    return {name: _digest(value) for name, value in data.model_dump(mode="python").items()}


def check_same_request(order: Order, data: OrderIn) -> None:
    """A repeat of `order`'s external id must carry the same body; OrderError 409 lists what differs."""
    stored = order.request_digest or {}
    if not stored:  # recorded before digests were kept, or not through the orders API
        return
    sent = request_digest(data)
    differs = sorted(name for name in stored.keys() | sent.keys() if stored.get(name) != sent.get(name))
    if differs:
        raise OrderError(
            differs[0],
            f"order {data.external_id!r} of {data.source!r} was recorded with another body; "
            f"these fields differ: {', '.join(differs)}",
            status=409,
            code="order_conflict",
            fields=differs,
            order_id=order.pk,
        )


def _order_customer(brand: Brand, data: OrderIn) -> Customer | None:
    """The customer the order names (matched or created), or None; OrderError names the field."""
    if data.customer is None:
        return None
    try:
        customer, _ = customer_services.get_or_create_customer(
            brand,
            actor=None,
            name=data.customer.name,
            phone=data.customer.phone,
            email=data.customer.email,
            member_number=data.customer.member_number,
            source=data.source,
        )
    except customer_services.CustomerError as exc:
        raise OrderError(f"customer.{exc.field}", exc.message) from exc
    return customer


def paid_at_of(data: OrderIn) -> dt.datetime | None:
    return data.paid_at or (data.placed_at if data.status in ("paid", "fulfilled") else None)


def fulfilment_of(data: OrderIn) -> str:
    return data.fulfilment or (
        Order.Fulfilment.IN_STORE if data.sales_channel == SalesChannel.POS else Order.Fulfilment.SHIP
    )


def _new_order(brand: Brand, data: OrderIn, resolved: _Resolved, customer: Customer | None) -> Order:
    """The unsaved Order row for `data`."""
    status = data.status
    placed_at = data.placed_at
    paid_at = paid_at_of(data)
    fulfilment = fulfilment_of(data)
    return Order(
        brand=brand,
        source=data.source,
        external_id=data.external_id,
        request_digest=request_digest(data),
        name=data.name,
        sales_channel=data.sales_channel,
        store=resolved.store,
        staff=resolved.staff,
        staff_code=data.staff_code,
        customer=customer,
        contact_name=(data.customer.name if data.customer else "")[:120],
        contact_phone=customer.phone if customer else "",
        contact_email=customer.email if customer else "",
        fulfilment=fulfilment,
        payment_method=Order.Payment.PAID_EXTERNALLY,
        currency=data.currency,
        subtotal=data.computed_subtotal(),
        discount_total=sum(d.amount for d in data.discounts),
        shipping_total=data.shipping_total,
        tax_total=data.tax_total,
        total=data.computed_total(),
        discounts=[d.model_dump() for d in data.discounts],
        status=status,
        ref=data.ref,
        note=data.note,
        placed_at=placed_at,
        paid_at=paid_at,
        fulfilled_at=placed_at if status == "fulfilled" else None,
        cancelled_at=placed_at if status == "cancelled" else None,
    )


def _new_lines(brand: Brand, order: Order, data: OrderIn, resolved: _Resolved) -> list[OrderLine]:
    lines = []
    for line in data.lines:
        variant = resolved.variants.get(line.sku)
        lines.append(
            OrderLine(
                brand=brand,
                order=order,
                variant=variant,
                product_id=variant.product_id if variant else None,
                sku=line.sku,
                title=line.title or (str(variant) if variant else line.sku),
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                total=line.quantity * line.unit_price - line.discount,
                placed_at=order.placed_at,
            )
        )
    return lines


def _after_recorded(order: Order, *, actor: Actor | None) -> None:
    if order.status in ("paid", "fulfilled"):
        after_paid(order)
    _announce(order, actor=actor)


def _announce(order: Order, *, actor: Actor | None, in_batch: bool = False) -> None:
    if actor is not None and actor.user is not None:
        audit.record(actor, "order.recorded", order)
    events.publish(
        "order.recorded",
        brand_id=order.brand_id,
        order_id=order.pk,
        sales_channel=order.sales_channel,
        status=order.status,
        created=True,
        in_batch=in_batch,
    )


def _create_recorded_order(brand: Brand, data: OrderIn, resolved: _Resolved, *, actor: Actor | None) -> Order:
    order = _new_order(brand, data, resolved, _order_customer(brand, data))
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(_new_lines(brand, order, data, resolved))
    if order.sales_channel == SalesChannel.POS:
        loyalty.link_till_sale(order)
        if takes_store_stock(order, data):
            take_store_stock(order)
    _after_recorded(order, actor=actor)  # publishes last: the rollup's deltas on hot rows
    return order


def takes_store_stock(order: Order, data: OrderIn) -> bool:
    """Whether recording this order takes its units off the store's stock: as the request says, else
    a POS sale handed over in store (not a cancelled one) does."""
    if order.store_id is None or order.status == Order.Status.CANCELLED:
        return False
    if data.decrement_stock is not None:
        return data.decrement_stock
    return order.sales_channel == SalesChannel.POS and order.fulfilment == Order.Fulfilment.IN_STORE


def take_store_stock(order: Order) -> None:
    """Each line's units leave the store's location (a committed reservation and a SALE movement
    per line); a store without a stock location records none."""
    if order.store_id is None:
        return
    location = Location.objects.filter(brand_id=order.brand_id, store_id=order.store_id).first()
    if location is None:
        return
    for line in OrderLine.objects.filter(order=order, variant__isnull=False).select_related("variant"):
        if line.variant is not None:
            inventory.sell_in_store(
                line.variant, location, line.quantity, order_line=line, reference=f"order:{order.pk}"
            )


def take_store_stock_many(orders: Sequence[Order]) -> None:
    """take_store_stock for many orders of one brand (a batch), in the order given, set-wise."""
    stores = {order.store_id for order in orders if order.store_id is not None}
    if not stores:
        return
    brand_id = orders[0].brand_id
    locations = dict(
        Location.objects.filter(brand_id=brand_id, store_id__in=stores).values_list("store_id", "pk")
    )
    selling = [(order, locations[order.store_id]) for order in orders if order.store_id in locations]
    lines: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for order_id, pk, variant_id, quantity in (
        OrderLine.objects.filter(order_id__in=[order.pk for order, _ in selling], variant__isnull=False)
        .order_by("pk")
        .values_list("order_id", "pk", "variant_id", "quantity")
    ):
        lines[order_id].append((pk, variant_id, quantity))
    inventory.sell_in_store_many(
        brand_id,
        [
            inventory.StoreSaleLine(variant_id, location_id, quantity, pk, f"order:{order.pk}")
            for order, location_id in selling
            for pk, variant_id, quantity in lines[order.pk]
        ],
    )


def after_paid(order: Order) -> None:
    customer = order.customer
    if customer is None:
        return
    loyalty.earn_for_order(order)
    loyalty.recompute_tier(customer)
