"""What keeps the sales rollup current besides the deltas written with each order change.

- After an order is recorded or cancelled, or customers are merged or split, the customers'
  activity is recomputed (omo.analytics.rollups.refresh_customers).
- Customers are never deleted outright (erasure keeps the row, a merge keeps the merged one), so
  no hook follows deletion; a rebuild clears the activity of one deleted by hand.
- A store or a product deleted: its orders' figures move to "no store" / "unknown product" (the
  orders' and lines' keys were set to NULL in the same transaction). A brand's deletion takes
  the whole rollup with it, so nothing is moved then.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete

from omo.analytics import rollups
from omo.catalog.models import Product
from omo.commerce.models import Order
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
    events.subscribe("order.recorded", on_order_recorded)
    events.subscribe("orders.batch_recorded", on_orders_batch_recorded)
    events.subscribe("order.cancelled", on_order_cancelled)
    events.subscribe("customer.merged", on_customers_moved)
    events.subscribe("customer.split", on_customers_moved)
    post_delete.connect(on_product_deleted, sender=Product, dispatch_uid="analytics.product_deleted")
    post_delete.connect(on_store_deleted, sender=Store, dispatch_uid="analytics.store_deleted")
