"""Pareto: how much of the period's revenue comes from its best customers.

Customers who ordered in the period are ranked by their net spend in it (ties by customer id).
The top p% are the first ⌈n × p / 100⌉ of the n customers; their share is their spend over the
spend of all n. Orders without a customer (anonymous till sales) are left out of both sides.

One query: spend per customer (inner), a rank over it, then a sum per percentile (100 rows at
most); the curve and the top 10 / 20 / 50% shares come from those 100 sums.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import Coalesce

from omo.analytics.reports.filters import ReportFilters
from omo.analytics.reports.sql import fetch, inner
from omo.analytics.selectors import NET

TOPS = (10, 20, 50)


@dataclass(frozen=True)
class Pareto:
    customers: int
    spend: int
    # spend of the customers in each percentile, 1..100 (the p-th holds ranks ⌈n(p-1)/100⌉+1..⌈np/100⌉)
    by_percentile: list[int]

    def top_spend(self, percent: int) -> int:
        return sum(self.by_percentile[:percent])

    def top_customers(self, percent: int) -> int:
        return -(-self.customers * percent // 100)  # ceiling

    def top_share(self, percent: int) -> float | None:
        return self.top_spend(percent) / self.spend if self.spend > 0 else None

    @property
    def tops(self) -> list[tuple[int, int, int, float | None]]:
        """(percent, customers, spend, share) for 10, 20 and 50%."""
        return [(p, self.top_customers(p), self.top_spend(p), self.top_share(p)) for p in TOPS]

    @property
    def curve(self) -> list[tuple[int, float]]:
        """(percent of customers, cumulative share of revenue) at 0, 5, 10, ... 100%."""
        points = [(0, 0.0)]
        if self.spend <= 0:
            return points
        running = 0
        for percent, amount in enumerate(self.by_percentile, start=1):
            running += amount
            if percent % 5 == 0:
                points.append((percent, running / self.spend))
        return points


_OUTER = """
SELECT bucket, COUNT(*), SUM(spend) FROM (
    SELECT ((ROW_NUMBER() OVER (ORDER BY t.spend DESC, t.customer_id) - 1) * 100
            / COUNT(*) OVER ()) + 1 AS bucket,
           t.spend AS spend
    FROM ({inner}) t
) ranked
GROUP BY bucket
"""


def pareto(filters: ReportFilters) -> Pareto:
    per_customer = (
        filters.orders()
        .filter(customer_id__isnull=False)
        .values("customer_id")
        .annotate(spend=Coalesce(Sum(NET), 0))
    )
    sql, params = inner(per_customer)
    by_percentile = [0] * 100
    customers = 0
    for bucket, count, spend in fetch(_OUTER.format(inner=sql), params):
        by_percentile[int(bucket) - 1] = int(spend or 0)
        customers += count
    return Pareto(customers=customers, spend=sum(by_percentile), by_percentile=by_percentile)
