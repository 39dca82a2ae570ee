"""What keeps the sales rollup current besides the deltas written with each order change.

- After an order is recorded or cancelled, or customers are merged or split, the customers'
  activity is recomputed (omo.analytics.rollups.refresh_customers).
- Customers are never deleted outright (erasure keeps the row, a merge keeps the merged one), so
  no hook follows deletion; a rebuild clears the activity of one deleted by hand.
- A store or a product deleted moves its orders' figures to "no store" / "unknown product",
  which no delta can follow: the brand's rollup is marked stale and rebuilt.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete

from omo.analytics import rollups
from omo.catalog.models import Product
from omo.commerce.models import Order
from omo.core import events
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
    rollups.refresh_customers(payload["brand_id"], _order_customers(payload["brand_id"], [payload["order_id"]]))


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(payload["brand_id"], _order_customers(payload["brand_id"], payload["order_ids"]))


def on_order_cancelled(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(payload["brand_id"], _order_customers(payload["brand_id"], [payload["order_id"]]))


def on_customers_moved(payload: dict[str, Any]) -> None:
    rollups.refresh_customers(payload["brand_id"], [payload["survivor_id"], payload["merged_id"]])


def on_catalogue_row_deleted(sender: type, instance: Store | Product, **kwargs: Any) -> None:
    rollups.mark_stale(instance.brand_id)


def connect() -> None:
    events.subscribe("order.recorded", on_order_recorded)
    events.subscribe("orders.batch_recorded", on_orders_batch_recorded)
    events.subscribe("order.cancelled", on_order_cancelled)
    events.subscribe("customer.merged", on_customers_moved)
    events.subscribe("customer.split", on_customers_moved)
    for model in (Store, Product):
        post_delete.connect(on_catalogue_row_deleted, sender=model, dispatch_uid=f"analytics.{model.__name__}_deleted")
