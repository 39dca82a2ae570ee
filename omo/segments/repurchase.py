"""The brand's own repurchase interval: how many days its customers usually take to buy again.

Measured from the counted orders: for every customer, their order days (calendar days in the
brand's time zone) in order; each gap between two consecutive different days is one observation.
The interval is the median gap (nearest rank: the ⌈n/2⌉-th smallest). With fewer than
`MIN_GAPS` gaps the history says too little and the default of 90 days is used.

The database computes the gaps with a window function (LAG over each customer's orders) and
answers a histogram (gap, how often): a few thousand rows at most, whatever the number of orders.
The ORM writes the inner query for each database (the local day and the day difference differ
between SQLite and PostgreSQL); the histogram around it is plain SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F, Window
from django.db.models.functions import Lag, TruncDate

from omo.commerce.models import Order
from omo.core.models import Brand
from omo.segments.rfm import DEFAULT_REPURCHASE_DAYS

MIN_GAPS = 30


@dataclass(frozen=True)
class Interval:
    days: int
    measured: bool  # False: too few gaps, the default
    gaps: int  # how many gaps the measurement saw


def _days(value: object) -> int:
    """A day difference as the database answers it: an interval (PostgreSQL) or microseconds."""
    if isinstance(value, dt.timedelta):
        return value.days
    return round(int(value) / 86_400_000_000)  # type: ignore[call-overload]


def gap_histogram(
    brand: Brand, zone: ZoneInfo, now: dt.datetime, *, counted: Sequence[str]
) -> dict[int, int]:
    """{gap in days: how many times}, gaps of 0 (two orders on one day) left out."""
    days = (
        Order.objects.filter(brand=brand, customer_id__isnull=False, placed_at__lte=now, status__in=counted)
        .order_by()
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .annotate(
            previous=Window(Lag("day"), partition_by=[F("customer_id")], order_by=[F("placed_at").asc()])
        )
        .annotate(gap=ExpressionWrapper(F("day") - F("previous"), output_field=DurationField()))
        .values("gap")
    )
    inner, params = days.query.sql_with_params()
    histogram: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gap, COUNT(*) FROM ({inner}) gaps WHERE gap IS NOT NULL GROUP BY gap",  # noqa: S608
            params,
        )
        for gap, count in cursor.fetchall():
            days_apart = _days(gap)
            if days_apart > 0:
                histogram[days_apart] = histogram.get(days_apart, 0) + int(count)
    return histogram


def median(histogram: dict[int, int]) -> int:
    """The ⌈n/2⌉-th smallest gap."""
    total = sum(histogram.values())
    position = (total + 1) // 2
    seen = 0
    for gap in sorted(histogram):
        seen += histogram[gap]
        if seen >= position:
            return gap
    raise ValueError("an empty histogram has no median")


def measure(brand: Brand, zone: ZoneInfo, now: dt.datetime, *, counted: Sequence[str]) -> Interval:
    histogram = gap_histogram(brand, zone, now, counted=counted)
    gaps = sum(histogram.values())
    if gaps < MIN_GAPS:
        return Interval(DEFAULT_REPURCHASE_DAYS, measured=False, gaps=gaps)
    return Interval(max(median(histogram), 1), measured=True, gaps=gaps)
