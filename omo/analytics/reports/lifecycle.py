"""Active / dormant movement month to month.

A customer is **active** on a day when their last counted order (under the store, clerk and
channel filters) is at most `DORMANT_AFTER_DAYS` days old, **dormant** once it is older, as the
ready-made segments define it (the brand's buying cycle, 90 days by default). Per month of the
period:

- **new**: customers whose first order ever is in the month;
- **reactivated**: customers who ordered in the month after more than the cycle without an order;
- **became dormant**: customers whose last order turned older than the cycle in the month;
- **active at the end**: active customers on the month's last day (or the period's last day).

Active at the end = active before + new + reactivated − became dormant, starting from the
customers active the day before the period. One query: the customers' order days from a cycle
before the period (inner), each with the previous and next one (window functions), counted per
event and day (outer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import DateField, Exists, OuterRef
from django.db.models.functions import TruncDate

from omo.analytics.reports.bindings import MONTH, buckets
from omo.analytics.reports.filters import ReportFilters
from omo.analytics.reports.sql import date_of_number, day_number, fetch, inner, number_of_date
from omo.commerce.models import Order

DORMANT_AFTER_DAYS = 90


@dataclass(frozen=True)
class Month:
    month: dt.date
    new: int
    reactivated: int
    lapsed: int
    active_end: int


@dataclass(frozen=True)
class Lifecycle:
    active_before: int
    months: list[Month]
    cycle_days: int


_OUTER = """
WITH d AS ({inner}),
e AS (
    SELECT customer_id, {n} AS n, d.before_window AS before_window,
           LAG({n}) OVER (PARTITION BY customer_id ORDER BY day) AS prev,
           LEAD({n}) OVER (PARTITION BY customer_id ORDER BY day) AS next
    FROM d
)
SELECT 'new', n, COUNT(*) FROM e
 WHERE prev IS NULL AND NOT before_window AND n >= %s GROUP BY n
UNION ALL
SELECT 'back', n, COUNT(*) FROM e
 WHERE n >= %s AND ((prev IS NULL AND before_window) OR n - prev > %s) GROUP BY n
UNION ALL
SELECT 'lapsed', n + %s + 1, COUNT(*) FROM e
 WHERE (next IS NULL OR next - n > %s) AND n + %s + 1 BETWEEN %s AND %s GROUP BY n
UNION ALL
SELECT 'active', 0, COUNT(DISTINCT customer_id) FROM e WHERE n BETWEEN %s AND %s
"""


def lifecycle(filters: ReportFilters, *, cycle: int = DORMANT_AFTER_DAYS) -> Lifecycle:
    window_first = filters.first - dt.timedelta(days=cycle + 1)
    window_start = filters.midnight(window_first)
    earlier = Order.objects.filter(
        filters.order_scope(),
        brand=filters.brand,
        customer_id=OuterRef("customer_id"),
        placed_at__lt=window_start,
    ).exclude(status=Order.Status.CANCELLED)
    days = (
        filters.orders(window_start, filters.end)
        .filter(customer_id__isnull=False)
        .annotate(day=TruncDate("placed_at", tzinfo=filters.zone, output_field=DateField()))
        .annotate(before_window=Exists(earlier))
        .values("customer_id", "day", "before_window")
        .distinct()
    )
    sql, params = inner(days)
    first, last = number_of_date(filters.first), number_of_date(filters.last)
    the_day_before = first - 1
    outer = _OUTER.format(inner=sql, n=day_number("day"))
    rows = fetch(
        outer,
        (
            *params,
            first,
            first,
            cycle,
            cycle,
            cycle,
            cycle,
            first,
            last,
            the_day_before - cycle,
            the_day_before,
        ),
    )
    columns = buckets(filters, MONTH)
    position = {month: index for index, month in enumerate(columns)}
    counts = {kind: [0] * len(columns) for kind in ("new", "back", "lapsed")}
    active_before = 0
    for kind, number, count in rows:
        if kind == "active":
            active_before = int(count)
            continue
        day = date_of_number(number)
        counts[kind][position[day.replace(day=1)]] += int(count)
    months, active = [], active_before
    for index, month in enumerate(columns):
        active += counts["new"][index] + counts["back"][index] - counts["lapsed"][index]
        months.append(
            Month(month, counts["new"][index], counts["back"][index], counts["lapsed"][index], active)
        )
    return Lifecycle(active_before=active_before, months=months, cycle_days=cycle)
