"""Cohort retention: customers by the month of their first order × months since.

A customer's cohort is the local month of their first counted order (under the store, clerk and
channel filters); the cohorts shown are those whose month falls in the period. Month k of a cohort
is the share of its customers who ordered in the k-th month after the first one (month 0 is 100%).
Each cohort is split by acquisition source: **clerk** when the customer was ever bound to a clerk
by scanning the clerk's QR code or opening the clerk's link (binding sources LIFF and the
prefilled-message code, omo/binding), **other** for everyone else.

One query: (customer, month) pairs of the orders since the first cohort month, of customers with
no order before it (inner), grouped per (first month, month, source) (outer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import DateField, Exists, OuterRef
from django.db.models.functions import TruncMonth

from omo.analytics.reports.filters import ReportFilters
from omo.analytics.reports.sql import as_date, fetch, inner
from omo.binding.models import Binding
from omo.commerce.models import Order

CLERK, OTHER = "clerk", "other"
SOURCES = (CLERK, OTHER)
CLERK_SOURCES = (Binding.Source.LIFF, Binding.Source.MESSAGE_CODE)


def months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


@dataclass
class Cohort:
    month: dt.date
    # source -> customers active in month k (index k); [0] is the cohort's size
    active: dict[str, list[int]] = field(default_factory=dict)

    def size(self, source: str | None = None) -> int:
        return self.series(source)[0] if self.series(source) else 0

    def series(self, source: str | None = None) -> list[int]:
        if source is not None:
            return self.active.get(source, [])
        length = max((len(series) for series in self.active.values()), default=0)
        return [sum(series[k] for series in self.active.values() if k < len(series)) for k in range(length)]

    def retention(self, source: str | None = None) -> list[float | None]:
        series = self.series(source)
        size = series[0] if series else 0
        return [count / size if size else None for count in series]


@dataclass(frozen=True)
class Cohorts:
    cohorts: list[Cohort]
    months: int  # columns: months since, 0..months-1

    def average(self, source: str | None = None) -> list[float | None]:
        """Retention per month since, weighted by cohort size over the cohorts old enough to have it."""
        out: list[float | None] = []
        for k in range(self.months):
            active = size = 0
            for cohort in self.cohorts:
                series = cohort.series(source)
                if k < len(series) and series:
                    active, size = active + series[k], size + series[0]
            out.append(active / size if size else None)
        return out


_OUTER = """
WITH m AS ({inner}),
     f AS (SELECT customer_id, MIN(month) AS first_month FROM m GROUP BY customer_id)
SELECT f.first_month, m.month, m.via_clerk, COUNT(*)
FROM m JOIN f ON f.customer_id = m.customer_id
GROUP BY f.first_month, m.month, m.via_clerk
"""


def cohorts(filters: ReportFilters) -> Cohorts:
    first_month = filters.first.replace(day=1)
    start = filters.midnight(first_month)
    earlier = Order.objects.filter(
        filters.order_scope(), brand=filters.brand, customer_id=OuterRef("customer_id"), placed_at__lt=start
    ).exclude(status=Order.Status.CANCELLED)
    via_clerk = Binding.objects.filter(
        brand=filters.brand, customer_id=OuterRef("customer_id"), source__in=CLERK_SOURCES
    )
    pairs = (
        filters.orders(start, filters.end)
        .filter(customer_id__isnull=False)
        .exclude(Exists(earlier))
        .annotate(month=TruncMonth("placed_at", tzinfo=filters.zone, output_field=DateField()))
        .annotate(via_clerk=Exists(via_clerk))
        .values("customer_id", "month", "via_clerk")
        .distinct()
    )
    sql, params = inner(pairs)
    months = months_between(first_month, filters.last) + 1
    found: dict[dt.date, Cohort] = {}
    for first, month, clerk, count in fetch(_OUTER.format(inner=sql), params):
        first, month = as_date(first), as_date(month)
        cohort = found.setdefault(first, Cohort(first))
        series = cohort.active.setdefault(
            CLERK if clerk else OTHER, [0] * (months - months_between(first_month, first))
        )
        series[months_between(first, month)] += count
    return Cohorts(cohorts=[found[month] for month in sorted(found)], months=months)
