"""Recording many orders at once (`POST /api/v1/orders/batch`, imports): set-wise reads, rows
through COPY on PostgreSQL, one clash retried order by order."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction

from omo.catalog.models import Variant
from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.commerce.schemas import OrderIn
from omo.commerce.services.recording import (
    OrderError,
    check_order,
    check_same_request,
    fulfilment_of,
    paid_at_of,
    record_order,
    request_digest,
    take_store_stock_many,
    takes_store_stock,
)
from omo.core import audit, bulk, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.staff.models import Store, User

logger = logging.getLogger(__name__)


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
        found = Order.objects.filter(pk__in=hits) if hits else Order.objects.none()
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


def _batch_order(
    brand: Brand, data: OrderIn, store_id: int | None, staff_id: int | None, customer: Customer | None
) -> Order:
    """The unsaved Order for `data`, as _new_order makes it, from its column values (bulk.new)."""
    status = data.status
    placed_at = data.placed_at
    return bulk.new(
        Order,
        {
            "brand_id": brand.pk,
            "source": data.source,
            "external_id": data.external_id,
            "request_digest": request_digest(data),
            "name": data.name,
            "sales_channel": str(data.sales_channel),
            "store_id": store_id,
            "staff_id": staff_id,
            "staff_code": data.staff_code,
            "customer_id": customer.pk if customer else None,
            "contact_name": (data.customer.name if data.customer else "")[:120],
            "contact_phone": customer.phone if customer else "",
            "contact_email": customer.email if customer else "",
            "fulfilment": str(fulfilment_of(data)),
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
            "paid_at": paid_at_of(data),
            "fulfilled_at": placed_at if status == "fulfilled" else None,
            "cancelled_at": placed_at if status == "cancelled" else None,
        },
    )


def _batch_lines(brand: Brand, order: Order, data: OrderIn, catalog: _Catalog) -> list[dict[str, object]]:
    """The lines of `order` as column values (bulk.insert_rows), as _new_lines makes them."""
    lines: list[dict[str, object]] = []
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
                try:
                    check_same_request(known[key], data)  # a repeat with another body: refused by field
                except OrderError as exc:
                    results[index] = BatchResult(index, "rejected", field=exc.field, error=exc.message)
                    continue
                results[index] = BatchResult(index, "existing", order=known[key])
                continue
            if key in claimed:
                duplicates.append((index, claimed[key]))
                continue
            try:
                check_order(brand, data)
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
        till_sales = [(data, order) for _, data, order in pending if order.sales_channel == SalesChannel.POS]
        loyalty.link_till_sales([order for _, order in till_sales])
        take_store_stock_many([order for data, order in till_sales if takes_store_stock(order, data)])
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
