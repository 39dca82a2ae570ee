"""What the segments app registers at start-up: its event subscribers and its daily job. Called
once, from its AppConfig.ready: the one place to look.

Every event that can change who is in a segment (orders, tags and other profile fields, consent,
bindings, points, tracked events, merges) marks the segments it can change stale
(omo/segments/stale.py); a debounced task refreshes them. The subscribers are durable (the mark is
written with the event and retried), except tracking's, which comes in bursts from the worker's
ingest and is backed by the daily pass. The predicted customer value is refitted every night and
fills the customer API's `predictions` and `rfm` (a registry of omo/customers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from omo.core import events, schedule
from omo.customers import registry as customer_registry
from omo.segments import personal_data, stale, tasks
from omo.segments.clv import selectors as clv_selectors
from omo.segments.clv import tasks as clv_tasks

# event -> the cause it is for omo.segments.trees (customer.updated: see _profile_changed)
CAUSES: dict[str, str] = {
    "order.recorded": "order",
    "orders.batch_recorded": "order",
    "order.paid": "order",
    "order.fulfilled": "order",
    "order.cancelled": "order",
    "order.refunded": "order",
    "binding.created": "binding",
    "binding.ended": "binding",
    "consent.changed": "consent",
    "points.changed": "loyalty",
    "customer.merged": "merge",
    "customer.split": "merge",
    "customer.erased": "merge",
}


def _marker(cause: str) -> Callable[[dict[str, Any]], None]:
    def mark(payload: dict[str, Any]) -> None:
        stale.mark_stale(payload["brand_id"], cause)

    return mark


def _profile_changed(payload: dict[str, Any]) -> None:
    """Tags are their own cause (a refresh says "tag"); other profile fields are "profile"."""
    fields = set(payload["fields"])
    if "tags" in fields:
        stale.mark_stale(payload["brand_id"], "tag")
    if fields - {"tags"}:
        stale.mark_stale(payload["brand_id"], "profile")


WHEN: dict[str, Callable[[dict[str, Any]], bool]] = {"order.recorded": events.not_in_batch}

_markers = {name: _marker(cause) for name, cause in CAUSES.items()}
_mark_tracked = _marker("tracking")


def register() -> None:
    # What the app holds about a person (omo/customers/personal_data.py).
    personal_data.register()

    for name, handler in _markers.items():
        events.subscribe(name, handler, durable=f"segments.stale.{name}", when=WHEN.get(name))
    events.subscribe("customer.updated", _profile_changed, durable="segments.stale.customer.updated")
    events.subscribe("tracking.recorded", _mark_tracked)

    # Rules with relative time ("in the last 90 days") move every day; after the nightly loyalty
    # pass (03:00) and the retention purge (03:30).
    schedule.register(
        "segments.daily_refresh", tasks.daily_refresh_all_brands, dt.timedelta(days=1), at=dt.time(4, 0)
    )
    # Predicted customer value: every brand refitted at night (omo/segments/clv/).
    schedule.register(
        "segments.clv_refit", clv_tasks.refit_all_brands, dt.timedelta(days=1), at=dt.time(3, 15)
    )
    # The customer API's `predictions` and `rfm`.
    customer_registry.register_customer_insights(clv_selectors.Insights())
