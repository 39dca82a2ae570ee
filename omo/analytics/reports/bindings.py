"""Bindings over time: new customer ↔ clerk bindings per week or month, per store or clerk.

A binding counts in the week (Monday first) or month its `started_at` falls in, local time.
**By the clerk** are bindings made by the customer scanning the clerk's QR code or opening their
link (sources LIFF and prefilled-message code); transfers, recoveries, merges and manual bindings
count as **other**. Stores are the binding's store (the clerk's store when it was made). The
sales-channel filter does not apply. One query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth, TruncWeek

from omo.analytics.reports.cohorts import CLERK_SOURCES
from omo.analytics.reports.filters import ReportFilters
from omo.binding.models import Binding
from omo.staff.models import Store, User

WEEK, MONTH = "week", "month"
STORES, CLERKS = "store", "clerk"


@dataclass
class BindingRow:
    key: int | None  # store or clerk id; None: no store
    name: str
    counts: list[int]  # per bucket
    by_clerk: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class BindingsOverTime:
    buckets: list[dt.date]
    rows: list[BindingRow] = field(default_factory=list)

    @property
    def totals(self) -> list[int]:
        return [sum(row.counts[i] for row in self.rows) for i in range(len(self.buckets))]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)

    @property
    def by_clerk(self) -> int:
        return sum(row.by_clerk for row in self.rows)


def buckets(filters: ReportFilters, grain: str) -> list[dt.date]:
    if grain == WEEK:
        day = filters.first - dt.timedelta(days=filters.first.weekday())
        step = 7
        out = []
        while day <= filters.last:
            out.append(day)
            day += dt.timedelta(days=step)
        return out
    month, out = filters.first.replace(day=1), []
    while month <= filters.last:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def bindings_over_time(filters: ReportFilters, *, grain: str = WEEK, by: str = STORES) -> BindingsOverTime:
    trunc = TruncWeek if grain == WEEK else TruncMonth
    bindings = Binding.objects.filter(
        brand=filters.brand, started_at__gte=filters.start, started_at__lt=filters.end
    ).order_by()
    if filters.store_id is not None:
        bindings = bindings.filter(store_id=filters.store_id)
    if filters.clerk_id is not None:
        bindings = bindings.filter(clerk_id=filters.clerk_id)
    key = "store_id" if by == STORES else "clerk_id"
    rows = (
        bindings.annotate(bucket=trunc("started_at", tzinfo=filters.zone))
        .values(key, "bucket")
        .annotate(n=Count("id"), via_clerk=Count("id", filter=Q(source__in=CLERK_SOURCES)))
    )
    columns = buckets(filters, grain)
    position = {day: index for index, day in enumerate(columns)}
    found: dict[int | None, BindingRow] = {}
    for row in rows:
        bucket = row["bucket"]
        day = (
            bucket.astimezone(filters.zone).date()
            if isinstance(bucket, dt.datetime) and bucket.tzinfo
            else bucket
        )
        day = day.date() if isinstance(day, dt.datetime) else day
        entry = found.setdefault(row[key], BindingRow(row[key], "", [0] * len(columns)))
        entry.counts[position[day]] += row["n"]
        entry.by_clerk += row["via_clerk"]
    names = _names(filters, by, [pk for pk in found if pk is not None])
    for pk, entry in found.items():
        entry.name = names.get(pk, "") if pk is not None else ""
    ordered = sorted(found.values(), key=lambda row: (-row.total, row.name, row.key or 0))
    return BindingsOverTime(buckets=columns, rows=ordered)


def _names(filters: ReportFilters, by: str, ids: list[int]) -> dict[int, str]:
    if by == STORES:
        return dict(Store.objects.filter(brand=filters.brand, pk__in=ids).values_list("pk", "name"))
    return {
        pk: display or username
        for pk, display, username in User.objects.filter(brand=filters.brand, pk__in=ids).values_list(
            "pk", "display_name", "username"
        )
    }
