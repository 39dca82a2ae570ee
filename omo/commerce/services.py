"""Order verbs: record an order from any sales channel, check out a cart, pay, fulfil, cancel, refund.

Each verb owns its transaction. Stock, points and coupons change inside it, so an order either
exists with all of its effects or not at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from omo.catalog import inventory
from omo.catalog.models import Location, Variant
from omo.commerce.models import Cart, CartLine, Order, OrderLine, Refund, SalesChannel
from omo.commerce.schemas import OrderIn, RefundIn
from omo.core import audit, bulk, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers import services as customer_services
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
    store_cache: dict | None = None,
    variant_cache: dict | None = None,
    staff_cache: dict | None = None,
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


def _check(brand: Brand, data: OrderIn) -> None:
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
    store_cache: dict | None = None,
    variant_cache: dict | None = None,
) -> tuple[Order, bool]:
    """Idempotent on (source, external_id): a repeat returns the existing order untouched."""
    existing = Order.objects.filter(brand=brand, source=data.source, external_id=data.external_id).first()
    if existing is not None:
        return existing, False
    _check(brand, data)
    resolved = _resolve(brand, data, store_cache=store_cache, variant_cache=variant_cache)
    try:
        with transaction.atomic():
            order = _create_recorded_order(brand, data, resolved, actor=actor)
    except IntegrityError:
        existing = Order.objects.filter(brand=brand, source=data.source, external_id=data.external_id).first()
        if existing is None:
            raise
        return existing, False  # a concurrent request recorded it first
    return order, True


def _order_customer(brand: Brand, data: OrderIn):
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


def _paid_at(data: OrderIn) -> dt.datetime | None:
    return data.paid_at or (data.placed_at if data.status in ("paid", "fulfilled") else None)


def _fulfilment(data: OrderIn) -> str:
    return data.fulfilment or (
        Order.Fulfilment.IN_STORE if data.sales_channel == SalesChannel.POS else Order.Fulfilment.SHIP
    )


def _new_order(brand: Brand, data: OrderIn, resolved: _Resolved, customer) -> Order:
    """The unsaved Order row for `data`."""
    status = data.status
    placed_at = data.placed_at
    paid_at = _paid_at(data)
    fulfilment = _fulfilment(data)
    return Order(
        brand=brand,
        source=data.source,
        external_id=data.external_id,
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
        _after_paid(order)
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
    _after_recorded(order, actor=actor)  # publishes last: the rollup's deltas on hot rows
    return order


def _after_paid(order: Order) -> None:
    if order.customer_id is None:
        return
    loyalty.earn_for_order(order)
    loyalty.recompute_tier(order.customer)


@dataclass
class BatchResult:
    index: int
    status: str  # created | existing | rejected
    order: Order | None = None
    field: str | None = None
    error: str | None = None


def _recorded(brand: Brand, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Order]:
    """Orders already recorded under any of these (source, external_id) keys, in one query."""
    if not keys:
        return {}
    sources = sorted({source for source, _ in keys})
    external_ids = sorted({ext for _, ext in keys})
    if connection.vendor == "postgresql":
        # Two array parameters instead of a placeholder per key; full rows only for the (rare) hits.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, source, external_id FROM {Order._meta.db_table} "
                "WHERE brand_id = %s AND source = ANY(%s) AND external_id = ANY(%s)",
                [brand.pk, sources, external_ids],
            )
            hits = [pk for pk, source, ext in cursor.fetchall() if (source, ext) in keys]
        found = Order.objects.filter(pk__in=hits) if hits else []
    else:
        found = Order.objects.filter(brand=brand, source__in=sources, external_id__in=external_ids)
    return {
        (order.source, order.external_id): order
        for order in found
        if (order.source, order.external_id) in keys
    }


@dataclass
class _Catalog:
    """What a batch's orders refer to, read once for the whole batch (ids and labels, not models)."""

    stores: dict[str, int]  # store code -> store id
    staff: dict[str, int]  # employee code -> user id
    variants: dict[str, tuple[int, int | None, str]]  # sku -> (variant id, product id, str(variant))


def _catalog(brand: Brand, orders: list[OrderIn]) -> _Catalog:
    store_codes = {data.store_code for data in orders if data.store_code}
    staff_codes = {data.staff_code for data in orders if data.staff_code}
    skus = {line.sku for data in orders for line in data.lines if line.sku}
    stores = (
        dict(Store.objects.filter(brand=brand, code__in=store_codes).values_list("code", "pk"))
        if store_codes
        else {}
    )
    staff = (
        dict(
            User.objects.filter(brand=brand, employee_code__in=staff_codes).values_list("employee_code", "pk")
        )
        if staff_codes
        else {}
    )
    variants: dict[str, tuple[int, int | None, str]] = {}
    if skus:
        rows = Variant.objects.filter(brand=brand, sku__in=skus).values_list(
            "sku", "pk", "product_id", "product__title", "title"
        )
        for sku, pk, product_id, product_title, title in rows:
            # The label str(variant) gives, without building the Variant and Product models.
            label = f"{product_title} {title}".strip() if product_id else sku
            variants[sku] = (pk, product_id, label)
    return _Catalog(stores, staff, variants)


def _refs(catalog: _Catalog, data: OrderIn) -> tuple[int | None, int | None]:
    """(store id, staff id) of the order; OrderError as _resolve raises it, in the same order."""
    store_id = None
    if data.store_code:
        store_id = catalog.stores.get(data.store_code)
        if store_id is None:
            raise OrderError("store_code", f"no store with code {data.store_code!r}")
    staff_id = catalog.staff.get(data.staff_code) if data.staff_code else None
    for index, line in enumerate(data.lines):
        if line.sku and line.sku not in catalog.variants and not line.title:
            raise OrderError(f"lines[{index}].sku", f"unknown sku {line.sku!r} and no title given")
    return store_id, staff_id


def _batch_order(brand: Brand, data: OrderIn, store_id: int | None, staff_id: int | None, customer) -> Order:
    """The unsaved Order for `data`, as _new_order makes it, from its column values (bulk.new)."""
    status = data.status
    placed_at = data.placed_at
    return bulk.new(
        Order,
        {
            "brand_id": brand.pk,
            "source": data.source,
            "external_id": data.external_id,
            "name": data.name,
            "sales_channel": str(data.sales_channel),
            "store_id": store_id,
            "staff_id": staff_id,
            "staff_code": data.staff_code,
            "customer_id": customer.pk if customer else None,
            "contact_name": (data.customer.name if data.customer else "")[:120],
            "contact_phone": customer.phone if customer else "",
            "contact_email": customer.email if customer else "",
            "fulfilment": str(_fulfilment(data)),
            "shipping_address": {},
            "pickup_store_id": None,
            "payment_method": str(Order.Payment.PAID_EXTERNALLY),
            "currency": data.currency,
            "subtotal": data.computed_subtotal(),
            "discount_total": sum(d.amount for d in data.discounts),
            "shipping_total": data.shipping_total,
            "tax_total": data.tax_total,
            "total": data.computed_total(),
            "refunded_total": 0,
            "discounts": [d.model_dump() for d in data.discounts],
            "coupon_code": "",
            "points_redeemed": 0,
            "status": status,
            "ref": data.ref,
            "note": data.note,
            "placed_at": placed_at,
            "paid_at": _paid_at(data),
            "fulfilled_at": placed_at if status == "fulfilled" else None,
            "cancelled_at": placed_at if status == "cancelled" else None,
        },
    )


def _batch_lines(brand: Brand, order: Order, data: OrderIn, catalog: _Catalog) -> list[dict]:
    """The lines of `order` as column values (bulk.insert_rows), as _new_lines makes them."""
    lines = []
    for line in data.lines:
        variant_id, product_id, label = catalog.variants.get(line.sku) or (None, None, "")
        lines.append(
            {
                "brand_id": brand.pk,
                "order_id": order.pk,
                "variant_id": variant_id,
                "product_id": product_id,
                "sku": line.sku,
                "title": line.title or (label if variant_id else line.sku),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "total": line.quantity * line.unit_price - line.discount,
                "refunded_quantity": 0,
                "placed_at": order.placed_at,
            }
        )
    return lines


# Set-wise attempts before a batch that keeps meeting concurrent writers is recorded order by order.
BATCH_ATTEMPTS = 3


def record_orders(brand: Brand, orders: list[OrderIn], *, actor: Actor | None) -> list[BatchResult]:
    """Record many orders; each stands alone, so one bad order does not stop the others.

    Built for throughput, set-wise: one transaction; one query each for the orders already
    recorded and the stores, staff and variants named; customers matched or created for the
    whole batch (omo/customers/identity/); all new orders and all their lines written at once
    (COPY on PostgreSQL, omo/core/bulk.py); points earned and tiers set for the batch in a few
    queries; one commit hook for the per-order events.

    If a concurrent writer stores one of the same orders or identifiers first, the write fails
    (IntegrityError, after that writer committed) and the whole batch is rolled back and done
    again, now finding what the other stored; so is a deadlock between writers. After
    BATCH_ATTEMPTS the orders are recorded one by one, each in its own transaction (each
    idempotent). The outcome is the same either way.
    """
    catalog = _catalog(brand, orders)
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return _record_batch(brand, orders, catalog, actor=actor)
        except IntegrityError as exc:
            reason = f"a concurrent writer stored one of the same keys first ({exc})"
        except OperationalError as exc:
            if not _deadlock(exc):
                raise
            reason = "a deadlock with a concurrent writer"
        logger.info(
            "batch of %d orders for brand %s rolled back by %s (attempt %d of %d)",
            len(orders),
            brand.pk,
            reason,
            attempt,
            BATCH_ATTEMPTS,
        )
    logger.warning(
        "batch of %d orders for brand %s recorded order by order after %d attempts",
        len(orders),
        brand.pk,
        BATCH_ATTEMPTS,
    )
    return [_record_alone(brand, index, data, actor=actor) for index, data in enumerate(orders)]


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _record_alone(brand: Brand, index: int, data: OrderIn, *, actor: Actor | None) -> BatchResult:
    for attempt in range(BATCH_ATTEMPTS):
        try:
            order, created = record_order(brand, data, actor=actor)
        except OrderError as exc:
            return BatchResult(index, "rejected", field=exc.field, error=exc.message)
        except OperationalError as exc:
            if not _deadlock(exc) or attempt == BATCH_ATTEMPTS - 1:
                raise
            continue
        return BatchResult(index, "created" if created else "existing", order=order)
    raise AssertionError("unreachable")


def _record_batch(
    brand: Brand, orders: list[OrderIn], catalog: _Catalog, *, actor: Actor | None
) -> list[BatchResult]:
    results: list[BatchResult | None] = [None] * len(orders)
    with transaction.atomic():
        known = _recorded(brand, {(data.source, data.external_id) for data in orders})
        claimed: dict[tuple[str, str], int] = {}  # key -> index of the order in this batch that records it
        duplicates: list[tuple[int, int]] = []
        candidates: list[tuple[int, OrderIn, int | None, int | None]] = []
        for index, data in enumerate(orders):
            key = (data.source, data.external_id)
            if key in known:
                results[index] = BatchResult(index, "existing", order=known[key])
                continue
            if key in claimed:
                duplicates.append((index, claimed[key]))
                continue
            try:
                _check(brand, data)
                store_id, staff_id = _refs(catalog, data)
            except OrderError as exc:
                results[index] = BatchResult(index, "rejected", field=exc.field, error=exc.message)
                continue
            claimed[key] = index
            candidates.append((index, data, store_id, staff_id))
        customers = customer_services.resolve_customers(
            brand,
            [data.customer.model_dump() if data.customer else None for _, data, _, _ in candidates],
            source=orders[0].source if orders else "api",
            only=("phone", "email"),
        )
        pending: list[tuple[int, OrderIn, Order]] = []
        for (index, data, store_id, staff_id), customer in zip(candidates, customers, strict=True):
            if isinstance(customer, customer_services.CustomerError):
                results[index] = BatchResult(
                    index, "rejected", field=f"customer.{customer.field}", error=customer.message
                )
                continue
            pending.append((index, data, _batch_order(brand, data, store_id, staff_id, customer)))
        # Written in key order: concurrent batches holding some of the same keys then wait for
        # each other in one order, never crosswise (which would be a deadlock).
        bulk.insert(Order, [order for _, _, order in pending], sort_key=lambda o: (o.source, o.external_id))
        lines = [line for _, data, order in pending for line in _batch_lines(brand, order, data, catalog)]
        bulk.insert_rows(OrderLine, lines, need_ids=False)
        loyalty.earn_for_orders([order for _, _, order in pending if order.status in ("paid", "fulfilled")])
        if actor is not None and actor.user is not None:
            for _, _, order in pending:
                audit.record(actor, "order.recorded", order)
        events.publish_many(
            "order.recorded",
            (
                {
                    "brand_id": order.brand_id,
                    "order_id": order.pk,
                    "sales_channel": order.sales_channel,
                    "status": order.status,
                    "created": True,
                    "in_batch": True,
                }
                for _, _, order in pending
            ),
        )
        if pending:
            events.publish(
                "orders.batch_recorded", brand_id=brand.pk, order_ids=[order.pk for _, _, order in pending]
            )
    for index, _, order in pending:
        results[index] = BatchResult(index, "created", order=order)
    for index, first in duplicates:
        first_result = results[first]
        assert first_result is not None
        if first_result.status == "rejected":  # the same order again: the same refusal
            results[index] = BatchResult(
                index, "rejected", field=first_result.field, error=first_result.error
            )
        else:
            results[index] = BatchResult(index, "existing", order=first_result.order)
    return [result for result in results if result is not None]


# --- the built-in shop's carts and checkout -------------------------------------------------------


def new_cart(brand: Brand, *, ref: str = "", customer=None, created_by=None) -> Cart:
    return Cart.objects.create(
        brand=brand, token=secrets.token_urlsafe(18), ref=ref[:200], customer=customer, created_by=created_by
    )


def set_cart_line(cart: Cart, variant: Variant, quantity: int) -> None:
    if variant.brand_id != cart.brand_id or not variant.is_active:
        raise OrderError("variant", "this item is not for sale here", status=404)
    if quantity < 0 or quantity > 99:
        raise OrderError("quantity", "must be between 0 and 99")
    if cart.checked_out_order_id:
        raise OrderError("cart", "this cart has already been checked out", status=409)
    if quantity == 0:
        CartLine.objects.filter(cart=cart, variant=variant).delete()
    else:
        CartLine.objects.update_or_create(cart=cart, variant=variant, defaults={"quantity": quantity})
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())


def add_to_cart(cart: Cart, variant: Variant, quantity: int = 1) -> None:
    current = (
        CartLine.objects.filter(cart=cart, variant=variant).values_list("quantity", flat=True).first() or 0
    )
    set_cart_line(cart, variant, current + quantity)


def set_cart_ref(cart: Cart, ref: str) -> None:
    """The latest clerk referral the shopper arrived with; it is copied onto the order at checkout."""
    if cart.checked_out_order_id:
        return  # the order already carries the referral it was placed with
    cart.ref = ref[:200]
    Cart.objects.filter(pk=cart.pk, checked_out_order__isnull=True).update(
        ref=cart.ref, updated_at=timezone.now()
    )


def assign_cart_customer(cart: Cart, customer) -> None:
    """Make a recognised member the cart's customer, so checkout credits (and charges points to) them."""
    if customer.brand_id != cart.brand_id:
        raise OrderError("customer", "belongs to another brand", status=404)
    if cart.checked_out_order_id:
        raise OrderError("cart", "this cart has already been checked out", status=409)
    cart.customer = customer
    Cart.objects.filter(pk=cart.pk).update(customer=customer, updated_at=timezone.now())


@dataclass
class CartTotals:
    subtotal: int
    shipping: int
    coupon_discount: int
    points_discount: int
    total: int
    coupon: loyalty.CouponQuote | None
    coupon_error: str | None


SHIPPING_FEE = 10000  # NT$100 flat home delivery
FREE_SHIPPING_OVER = 150000  # free over NT$1,500


def cart_totals(
    cart: Cart, *, fulfilment: str = "ship", coupon_code: str = "", points: int = 0, customer=None
) -> CartTotals:
    lines = list(cart.lines.select_related("variant"))
    subtotal = sum(line.quantity * line.variant.price for line in lines)
    shipping = SHIPPING_FEE if fulfilment == Order.Fulfilment.SHIP and subtotal < FREE_SHIPPING_OVER else 0
    quote, coupon_error, coupon_discount = None, None, 0
    if coupon_code:
        try:
            quote = loyalty.quote_coupon(
                cart.brand_id, coupon_code, subtotal=subtotal, shipping=shipping, customer=customer
            )
            coupon_discount = quote.discount
            if quote.free_shipping:
                shipping = 0
        except loyalty.CouponError as exc:
            coupon_error = exc.message
    points_discount = 0
    if points:
        program = loyalty.program_for(cart.brand_id)
        points_discount = points * program.point_value
    total = max(0, subtotal - coupon_discount - points_discount) + shipping
    return CartTotals(subtotal, shipping, coupon_discount, points_discount, total, quote, coupon_error)


@dataclass
class Contact:
    name: str
    phone: str
    email: str = ""
    address: dict = field(default_factory=dict)  # {"postal_code", "city", "district", "line1"}


def _allocate(
    brand_id: int, variant: Variant, quantity: int, fulfilment: str, pickup_store: Store | None
) -> Location:
    """Pick the location that will serve this line: the pickup store, or the first that can ship it."""
    if fulfilment == Order.Fulfilment.PICKUP:
        location = Location.objects.filter(store=pickup_store, is_active=True).first()
        if location is None:
            raise OrderError("pickup_store", "this store cannot hand out orders")
        return location
    candidates = inventory.shipping_locations(brand_id)
    stock = {a.location_id: a.available for a in inventory.availability([variant.pk])[variant.pk]}
    for location in candidates:
        if stock.get(location.pk, 0) >= quantity:
            return location
    if not candidates:
        raise OrderError("fulfilment", "no location ships online orders")
    return candidates[0]  # reserve() will refuse with the real available count


def checkout(
    cart: Cart,
    *,
    contact: Contact,
    fulfilment: str,
    payment_method: str,
    pickup_store: Store | None = None,
    coupon_code: str = "",
    points: int = 0,
    note: str = "",
    actor: Actor | None = None,
) -> Order:
    """Turn a cart into an order, reserving stock, using the coupon and points, all or nothing.

    The cart token is the order's idempotency key: submitting the same cart twice returns the
    order made the first time.
    """
    brand = cart.brand
    existing = Order.objects.filter(brand=brand, source="shop", external_id=cart.token).first()
    if existing is not None:
        return existing
    if fulfilment not in (Order.Fulfilment.SHIP, Order.Fulfilment.PICKUP):
        raise OrderError("fulfilment", "choose home delivery or pick-up in store")
    allowed_payment = {
        Order.Fulfilment.SHIP: Order.Payment.COD,
        Order.Fulfilment.PICKUP: Order.Payment.PAY_IN_STORE,
    }
    if payment_method != allowed_payment[fulfilment]:
        raise OrderError("payment_method", f"with {fulfilment} the payment is {allowed_payment[fulfilment]}")
    if fulfilment == Order.Fulfilment.PICKUP and (pickup_store is None or pickup_store.brand_id != brand.pk):
        raise OrderError("pickup_store", "choose a store to pick up from")
    if fulfilment == Order.Fulfilment.SHIP:
        for key in ("city", "line1"):
            if not (contact.address.get(key) or "").strip():
                raise OrderError(f"address.{key}", "is required for home delivery")
    if not contact.name.strip():
        raise OrderError("name", "is required")
    try:
        phone, email = customer_services.clean_contact(brand, phone=contact.phone, email=contact.email)
    except customer_services.CustomerError as exc:
        raise OrderError(exc.field, exc.message) from exc
    if not phone:
        raise OrderError("phone", "is required")
    lines = list(cart.lines.select_related("variant__product").order_by("variant_id"))
    if not lines:
        raise OrderError("cart", "the cart is empty")
    if points < 0:
        raise OrderError("points", "must not be negative")

    try:
        with transaction.atomic():
            return _place(
                cart,
                brand,
                lines,
                contact,
                phone,
                email,
                fulfilment,
                payment_method,
                pickup_store,
                coupon_code,
                points,
                note,
                actor,
            )
    except IntegrityError:
        existing = Order.objects.filter(brand=brand, source="shop", external_id=cart.token).first()
        if existing is None:
            raise
        return existing


def _place(
    cart,
    brand,
    lines,
    contact,
    phone,
    email,
    fulfilment,
    payment_method,
    pickup_store,
    coupon_code,
    points,
    note,
    actor,
) -> Order:
    customer = cart.customer
    if customer is None:
        customer, _ = customer_services.get_or_create_customer(
            brand, actor=None, name=contact.name, phone=phone, email=email, source="shop"
        )
    totals = cart_totals(cart, fulfilment=fulfilment, coupon_code=coupon_code, customer=customer)
    if coupon_code and totals.coupon_error:
        raise OrderError("coupon_code", totals.coupon_error)
    program = loyalty.program_for(brand)
    if points:
        balance = loyalty.account_for(customer).balance
        cap = loyalty.max_redeemable(program, totals.subtotal - totals.coupon_discount, balance)
        if points > cap:
            raise OrderError("points", f"at most {cap} points can be used on this order (balance {balance})")
    now = timezone.now()
    points_discount = points * program.point_value
    discount_total = totals.coupon_discount + points_discount
    discounts = []
    if totals.coupon is not None:
        discounts.append(
            {
                "code": totals.coupon.code.code,
                "kind": totals.coupon.code.coupon.kind,
                "amount": totals.coupon_discount,
            }
        )
    if points:
        discounts.append({"code": "", "kind": "points", "amount": points_discount})
    order = Order.objects.create(
        brand=brand,
        source="shop",
        external_id=cart.token,
        sales_channel=SalesChannel.WEB_SHOP,
        customer=customer,
        contact_name=contact.name.strip(),
        contact_phone=phone,
        contact_email=email,
        fulfilment=fulfilment,
        shipping_address=contact.address if fulfilment == Order.Fulfilment.SHIP else {},
        pickup_store=pickup_store if fulfilment == Order.Fulfilment.PICKUP else None,
        payment_method=payment_method,
        currency=brand.currency,
        subtotal=totals.subtotal,
        discount_total=discount_total,
        shipping_total=totals.shipping,
        total=totals.subtotal - discount_total + totals.shipping,
        discounts=discounts,
        coupon_code=totals.coupon.code.code if totals.coupon else "",
        points_redeemed=points,
        status=Order.Status.PLACED,
        ref=cart.ref,
        note=note[:2000],
        placed_at=now,
    )
    Order.objects.filter(pk=order.pk).update(name=f"W{order.pk:07d}")
    order.name = f"W{order.pk:07d}"
    order_lines = []
    for line in lines:
        variant = line.variant
        order_line = OrderLine.objects.create(
            brand=brand,
            order=order,
            variant=variant,
            product_id=variant.product_id,
            sku=variant.sku,
            title=str(variant),
            quantity=line.quantity,
            unit_price=variant.price,
            total=line.quantity * variant.price,
            placed_at=now,
        )
        order_lines.append(order_line)
        location = _allocate(brand.pk, variant, line.quantity, fulfilment, pickup_store)
        try:
            inventory.reserve(
                variant, location, line.quantity, order_line=order_line, reference=f"order:{order.pk}"
            )
        except inventory.OutOfStock as exc:
            raise OrderError(
                "cart",
                f"{variant} 庫存不足，剩 {exc.available} 件 / only {exc.available} left of {variant.sku}",
                status=409,
            ) from exc
    if totals.coupon is not None:
        try:
            loyalty.redeem_coupon(totals.coupon, order=order, amount=totals.coupon_discount)
        except loyalty.CouponError as exc:
            raise OrderError("coupon_code", exc.message, status=409) from exc
    if points:
        try:
            loyalty.redeem_for_order(order, points)
        except loyalty.InsufficientPoints as exc:
            raise OrderError("points", str(exc), status=409) from exc
    Cart.objects.filter(pk=cart.pk).update(checked_out_order=order, customer=customer)
    if actor is not None and actor.user is not None:
        audit.record(actor, "order.placed", order)
    events.publish(
        "order.recorded",
        brand_id=brand.pk,
        order_id=order.pk,
        sales_channel=order.sales_channel,
        status=order.status,
        created=True,
        in_batch=False,
    )
    return order


# --- life cycle -------------------------------------------------------------------------------


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


@transaction.atomic
def mark_paid(order: Order, *, actor: Actor | None, at: dt.datetime | None = None) -> Order:
    order = _locked(order)
    if order.status != Order.Status.PLACED:
        raise OrderError("status", f"an order that is {order.status} cannot be marked paid", status=409)
    order.status = Order.Status.PAID
    order.paid_at = at or timezone.now()
    order.save(update_fields=["status", "paid_at"])
    _after_paid(order)
    if actor is not None:
        audit.record(actor, "order.paid", order)
    events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    return order


@transaction.atomic
def fulfil(order: Order, *, actor: Actor | None) -> Order:
    """Goods handed over (shipped or picked up): reserved stock leaves the location.

    Pay-on-delivery and pay-in-store orders are paid at that moment too.
    """
    order = _locked(order)
    if order.status not in (Order.Status.PLACED, Order.Status.PAID):
        raise OrderError("status", f"an order that is {order.status} cannot be fulfilled", status=409)
    was_placed = order.status == Order.Status.PLACED
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            inventory.commit(reservation, reference=f"order:{order.pk}")
    now = timezone.now()
    order.status = Order.Status.FULFILLED
    order.fulfilled_at = now
    if was_placed:
        order.paid_at = now
    order.save(update_fields=["status", "fulfilled_at", "paid_at"])
    if was_placed:
        _after_paid(order)
        events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    if actor is not None:
        audit.record(actor, "order.fulfilled", order)
    return order


@transaction.atomic
def cancel(order: Order, *, actor: Actor | None, reason: str = "") -> Order:
    order = _locked(order)
    if order.status not in (Order.Status.PLACED, Order.Status.PAID):
        raise OrderError("status", f"an order that is {order.status} cannot be cancelled", status=409)
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            inventory.release(reservation, reference=f"order:{order.pk}")
    loyalty.undo_for_cancellation(order)
    loyalty.release_coupon(order)
    order.status = Order.Status.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at"])
    if order.customer_id:
        loyalty.recompute_tier(order.customer)
    if actor is not None:
        audit.record(actor, "order.cancelled", order, reason=reason)
    events.publish("order.cancelled", brand_id=order.brand_id, order_id=order.pk)  # last: the rollup's deltas
    return order


def refund(order: Order, data: RefundIn, *, actor: Actor | None) -> tuple[Refund, bool]:
    """Refund part or all of a paid order. Idempotent on (order, external_id)."""
    existing = Refund.objects.filter(order=order, external_id=data.external_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return _refund(order, data, actor=actor), True
    except IntegrityError:
        existing = Refund.objects.filter(order=order, external_id=data.external_id).first()
        if existing is None:
            raise
        return existing, False


def _refund(order: Order, data: RefundIn, *, actor: Actor | None) -> Refund:
    order = _locked(order)
    if order.status not in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.PARTIALLY_REFUNDED):
        raise OrderError("status", f"an order that is {order.status} cannot be refunded", status=409)
    remaining = order.total - order.refunded_total
    if data.amount > remaining:
        raise OrderError("amount", f"{data.amount} exceeds the refundable {remaining}")
    lines_by_id = {line.pk: line for line in order.lines.all()}
    for index, item in enumerate(data.lines):
        line = lines_by_id.get(item.get("line_id"))
        quantity = item.get("quantity")
        if line is None:
            raise OrderError(f"lines[{index}].line_id", "not a line of this order")
        if (
            not isinstance(quantity, int)
            or quantity <= 0
            or quantity > line.quantity - line.refunded_quantity
        ):
            raise OrderError(
                f"lines[{index}].quantity", f"must be 1..{line.quantity - line.refunded_quantity}"
            )
    refund_row = Refund.objects.create(
        brand_id=order.brand_id,
        order=order,
        external_id=data.external_id,
        amount=data.amount,
        reason=data.reason,
        lines=data.lines,
        restock=data.restock,
        created_by=actor.user if actor is not None and actor.user is not None else None,
    )
    for item in data.lines:
        line = lines_by_id[item["line_id"]]
        OrderLine.objects.filter(pk=line.pk).update(
            refunded_quantity=F("refunded_quantity") + item["quantity"]
        )
        if data.restock and line.variant_id:
            location = _restock_location(order)
            if location is not None:
                inventory.restock(
                    line.variant, location, item["quantity"], reference=f"refund:{refund_row.pk}"
                )
    order.refunded_total += data.amount
    order.status = (
        Order.Status.REFUNDED if order.refunded_total >= order.total else Order.Status.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_total", "status"])
    loyalty.reverse_for_refund(order, refund_row)
    if order.customer_id:
        loyalty.recompute_tier(order.customer)
    if actor is not None:
        audit.record(actor, "order.refunded", order, amount=data.amount, refund_id=refund_row.pk)
    events.publish(
        "order.refunded",
        brand_id=order.brand_id,
        order_id=order.pk,
        refund_id=refund_row.pk,
        amount=data.amount,
    )
    return refund_row


def _restock_location(order: Order) -> Location | None:
    if order.store_id:
        return Location.objects.filter(store_id=order.store_id).first()
    reservation = order.lines.first().reservations.first() if order.lines.exists() else None
    if reservation is not None:
        return reservation.location
    return Location.objects.filter(brand_id=order.brand_id, ships_online_orders=True).first()
