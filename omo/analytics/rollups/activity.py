"""Customer activity, recomputed from the customer's orders after commit (from the order and merge
events), under a lock on the customer's activity rows; the histogram moves by the difference.
Recomputing is idempotent, so repeating it is harmless.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max, Q

from omo.analytics import selectors
from omo.analytics.models import (
    WHOLE_BRAND,
    CustomerActivity,
    CustomerDay,
)
from omo.analytics.rollups.cells import CANCELLED, STREAM_CHUNK, add_cells, empty_cells, writable_zone
from omo.commerce.models import Order
from omo.core import bulk


@dataclass(frozen=True)
class Activity:
    customer_id: int
    scope: int
    last_order_day: dt.date | None
    last_online_day: dt.date | None
    last_in_store_day: dt.date | None

    @property
    def omo_day(self) -> dt.date | None:
        """The last day by which the customer had bought both online and in store."""
        if self.last_online_day is None or self.last_in_store_day is None:
            return None
        return min(self.last_online_day, self.last_in_store_day)


def activities(orders, zone: ZoneInfo) -> Iterator[Activity]:
    """Per customer, in customer order: an activity per store they bought in and the whole brand."""
    rows = (
        orders.exclude(status=CANCELLED)
        .filter(customer_id__isnull=False)
        .order_by()
        .values("customer_id", "store_id")
        .annotate(
            last=Max("placed_at"),
            online=Max("placed_at", filter=Q(sales_channel__in=selectors.ONLINE_CHANNELS)),
            in_store=Max("placed_at", filter=Q(sales_channel__in=selectors.IN_STORE_CHANNELS)),
        )
        .order_by("customer_id")
        .values_list("customer_id", "store_id", "last", "online", "in_store")
    )

    def local(at: dt.datetime | None) -> dt.date | None:
        return at.astimezone(zone).date() if at is not None else None

    def later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
        return b if a is None else a if b is None else max(a, b)

    current: int | None = None
    overall: list[dt.date | None] = [None, None, None]
    for customer_id, store_id, last, online, in_store in rows.iterator(chunk_size=STREAM_CHUNK):
        if customer_id != current:
            if current is not None:
                yield Activity(current, WHOLE_BRAND, *overall)
            current, overall = customer_id, [None, None, None]
        days = (local(last), local(online), local(in_store))
        overall = [later(a, b) for a, b in zip(overall, days, strict=True)]
        if store_id is not None:
            yield Activity(customer_id, store_id, *days)
    if current is not None:
        yield Activity(current, WHOLE_BRAND, *overall)


def _count(histogram: Counter, activity: Activity, sign: int) -> None:
    if activity.last_order_day is not None:
        histogram[(activity.scope, activity.last_order_day, 0)] += sign
    omo_day = activity.omo_day
    if omo_day is not None:
        histogram[(activity.scope, omo_day, 1)] += sign


def _add_histogram(brand_id: int, histogram: Counter) -> None:
    cells = empty_cells(CustomerDay)
    for (scope, day, kind), count in histogram.items():
        cells[(scope, day)][kind] += count
    add_cells(CustomerDay, brand_id, cells)


def refresh_customers(brand_id: int, customer_ids: Iterable[int | None]) -> None:
    """Recompute these customers' activity from their orders and move the histogram to match."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return
    with transaction.atomic():
        zone = writable_zone(brand_id)
        if zone is None:
            return
        for start in range(0, len(ids), 1000):
            _refresh_chunk(brand_id, zone, ids[start : start + 1000])


def _refresh_chunk(brand_id: int, zone: ZoneInfo, ids: list[int]) -> None:
    # A whole-brand row for each customer to lock (a new customer has none yet), then every row
    # of these customers locked in key order: concurrent refreshes of a customer take turns.
    add_cells(CustomerActivity, brand_id, {(pk, WHOLE_BRAND): [] for pk in ids})
    list(
        CustomerActivity.objects.select_for_update()
        .filter(brand_id=brand_id, customer_id__in=ids)
        .order_by("customer_id", "scope")
        .values_list("pk", flat=True)
    )
    recompute_customers(brand_id, zone, Q(customer_id__in=ids))


def recompute_customers(brand_id: int, zone: ZoneInfo, customers: Q) -> int:
    """Replace the activity of the `customers` (a filter on customer_id) with what their orders
    say, moving the histogram by the difference. The caller holds the locks."""
    old = CustomerActivity.objects.filter(customers, brand_id=brand_id).values_list(
        "customer_id", "scope", "last_order_day", "last_online_day", "last_in_store_day"
    )
    histogram: Counter = Counter()
    for row in old:
        _count(histogram, Activity(*row), -1)
    new = []
    for activity in activities(Order.objects.filter(customers, brand_id=brand_id), zone):
        _count(histogram, activity, +1)
        new.append(_activity_row(brand_id, activity))
    CustomerActivity.objects.filter(customers, brand_id=brand_id).delete()
    bulk.insert_rows(CustomerActivity, new, need_ids=False)
    _add_histogram(brand_id, histogram)
    return len(new)


def _activity_row(brand_id: int, activity: Activity) -> dict[str, Any]:
    return {
        "brand_id": brand_id,
        "customer_id": activity.customer_id,
        "scope": activity.scope,
        "last_order_day": activity.last_order_day,
        "last_online_day": activity.last_online_day,
        "last_in_store_day": activity.last_in_store_day,
    }
