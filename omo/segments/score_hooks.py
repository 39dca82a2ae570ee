"""What keeps the scores current, registered once from the segments app's AppConfig.ready:

- a nightly run for every brand at 02:30 (omo.core.schedule);
- a new brand gets its ready-made segments (omo.core.brands.register_setup);
- after an order is recorded, cancelled or refunded, its customer's row is updated against the
  brand's last run (durable: a retry after a crash repeats an idempotent update); the same for the
  two customers of a merge or split, and an erased customer (row removed). A new customer without
  an order gets a row (a prospect) at the next run: no follow-up per customer on bulk ingests.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from omo.commerce.models import Order
from omo.core import brands, events, schedule
from omo.segments import ready_made, score_tasks, scores


def _order_customers(brand_id: int, order_ids: list[int]) -> list[int]:
    return list(
        Order.objects.filter(brand_id=brand_id, pk__in=order_ids, customer_id__isnull=False)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )


def on_order_changed(payload: dict[str, Any]) -> None:
    scores.rescore_customers(
        payload["brand_id"], _order_customers(payload["brand_id"], [payload["order_id"]])
    )


# One function per durable subscription: omo.core.events knows a durable subscriber by its handler,
# so a handler shared by three events would carry the last name (and its `when`) for all three, and
# a bulk ingest's per-order `order.recorded` events would each rescore their customer.
def on_order_recorded(payload: dict[str, Any]) -> None:
    on_order_changed(payload)


def on_order_cancelled(payload: dict[str, Any]) -> None:
    on_order_changed(payload)


def on_order_refunded(payload: dict[str, Any]) -> None:
    on_order_changed(payload)


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    scores.rescore_customers(payload["brand_id"], _order_customers(payload["brand_id"], payload["order_ids"]))


def on_customers_moved(payload: dict[str, Any]) -> None:
    scores.rescore_customers(payload["brand_id"], [payload["survivor_id"], payload["merged_id"]])


def on_customer(payload: dict[str, Any]) -> None:
    scores.rescore_customers(payload["brand_id"], [payload["customer_id"]])


def register() -> None:
    schedule.register(
        "segments.scores_nightly",
        score_tasks.nightly_scores_all_brands,
        dt.timedelta(days=1),
        at=dt.time(2, 30),
    )
    brands.register_setup("segments.ready_made", ready_made.ensure_ready_made)
    events.subscribe(
        "order.recorded",
        on_order_recorded,
        durable="segments.scores_order_recorded",
        when=events.not_in_batch,
    )
    events.subscribe(
        "orders.batch_recorded", on_orders_batch_recorded, durable="segments.scores_orders_batch"
    )
    events.subscribe("order.cancelled", on_order_cancelled, durable="segments.scores_order_cancelled")
    events.subscribe("order.refunded", on_order_refunded, durable="segments.scores_order_refunded")
    events.subscribe("customer.merged", on_customers_moved, durable="segments.scores_customers_moved")
    events.subscribe("customer.split", on_customers_moved, durable="segments.scores_customers_moved")
    events.subscribe("customer.erased", on_customer, durable="segments.scores_customer_erased")
