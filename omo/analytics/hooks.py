"""What keeps the sales rollup current.

- Inside the transaction that records, cancels or refunds an order, the order events' in-transaction
  subscribers add its deltas to the sales cells (omo.analytics.rollups.add_orders, remove_order,
  refund_lines). Commerce publishes the event after its other writes, so the upserts on today's hot
  cells stay the transaction's last statements (docs/adr-sales-rollup.md).
- After an order is recorded or cancelled, or customers are merged or split, the customers'
  activity is recomputed (omo.analytics.rollups.refresh_customers) by durable subscribers: a
  recompute is idempotent, so a retry after a crash is harmless.
- Customers are never deleted outright (erasure keeps the row, a merge keeps the merged one), so
  no hook follows deletion; a rebuild clears the activity of one deleted by hand.
- A store or a product deleted: its orders' figures move to "no store" / "unknown product" (the
  orders' and lines' keys were set to NULL in the same transaction). A brand's deletion takes
  the whole rollup with it, so nothing is moved then.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete

from omo.analytics import rollups, sweep
from omo.catalog.models import Product
from omo.commerce.models import Order, OrderLine, Refund
from omo.core import events
from omo.core.models import Brand
from omo.staff.models import Store


def _order_customers(brand_id: int, order_ids: list[int]) -> list[int]:
    return list(
        Order.objects.filter(brand_id=brand_id, pk__in=order_ids, customer_id__isnull=False)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )


# --- sales cells: in the order's own transaction -----------------------------------------------

_LINE_COLUMNS = ("order_id", "product_id", "quantity", "total", "refunded_quantity")


def _add_recorded(brand_id: int, order_ids: list[int]) -> None:
    orders = list(
        Order.objects.filter(brand_id=brand_id, pk__in=order_ids).only(
            "id", "brand_id", "status", "placed_at", "store_id", "sales_channel", "total", "refunded_total"
        )
    )
    if not orders:
        return
    lines = OrderLine.objects.filter(order_id__in=[order.pk for order in orders]).values(*_LINE_COLUMNS)
    rollups.add_orders(brand_id, orders, lines)


def count_order_recorded(payload: dict[str, Any]) -> None:
    if payload["in_batch"]:
        return  # counted with the whole batch
    _add_recorded(payload["brand_id"], [payload["order_id"]])


def count_orders_batch_recorded(payload: dict[str, Any]) -> None:
    _add_recorded(payload["brand_id"], list(payload["order_ids"]))


def count_order_cancelled(payload: dict[str, Any]) -> None:
    rollups.remove_order(Order.objects.get(brand_id=payload["brand_id"], pk=payload["order_id"]))


def count_order_refunded(payload: dict[str, Any]) -> None:
    refund = Refund.objects.select_related("order").get(brand_id=payload["brand_id"], pk=payload["refund_id"])
    units: dict[int, int] = {}
    for item in refund.lines:
        units[int(item["line_id"])] = units.get(int(item["line_id"]), 0) + int(item["quantity"])
    before = []
    for line in OrderLine.objects.filter(order_id=refund.order_id, pk__in=list(units)):
        # The refund already moved refunded_quantity on; the rollup wants each line as it was.
        line.refunded_quantity -= units[line.pk]
        before.append((line, units[line.pk]))
    rollups.refund_lines(refund.order, payload["amount"], before)


# --- customers' activity: after commit, durable ------------------------------------------------


def on_order_recorded(payload: dict[str, Any]) -> None:
    if payload["in_batch"]:
        return  # the batch event follows
    rollups.refresh_customers(
        payload["brand_id"], _order_customers(payload["brand_id"], [payload["order_id"]])
    )


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(
        payload["brand_id"], _order_customers(payload["brand_id"], payload["order_ids"])
    )


def on_order_cancelled(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(
        payload["brand_id"], _order_customers(payload["brand_id"], [payload["order_id"]])
    )


def on_customers_moved(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(payload["brand_id"], [payload["survivor_id"], payload["merged_id"]])


def on_product_deleted(sender: type, instance: Product, origin: Any = None, **kwargs: Any) -> None:
    if not isinstance(origin, Brand):  # a brand's deletion takes its rollup with it
        rollups.forget_product(instance.brand_id, instance.pk)


def on_store_deleted(sender: type, instance: Store, origin: Any = None, **kwargs: Any) -> None:
    if not isinstance(origin, Brand):
        rollups.forget_store(instance.brand_id, instance.pk)


def connect() -> None:
    events.subscribe_in_transaction("order.recorded", count_order_recorded)
    events.subscribe_in_transaction("orders.batch_recorded", count_orders_batch_recorded)
    events.subscribe_in_transaction("order.cancelled", count_order_cancelled)
    events.subscribe_in_transaction("order.refunded", count_order_refunded)
    events.subscribe(
        "order.recorded", on_order_recorded, durable="analytics.order_recorded", when=events.not_in_batch
    )
    events.subscribe(
        "orders.batch_recorded", on_orders_batch_recorded, durable="analytics.orders_batch_recorded"
    )
    events.subscribe("order.cancelled", on_order_cancelled, durable="analytics.order_cancelled")
    events.subscribe("customer.merged", on_customers_moved, durable="analytics.customers_moved")
    events.subscribe("customer.split", on_customers_moved, durable="analytics.customers_moved")
    sweep.register()
    post_delete.connect(on_product_deleted, sender=Product, dispatch_uid="analytics.product_deleted")
    post_delete.connect(on_store_deleted, sender=Store, dispatch_uid="analytics.store_deleted")
