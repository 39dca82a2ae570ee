"""OMO contribution: customers who bought both online and in store against single-channel ones.

For the period, each ordering customer falls in one group by their counted orders in it:
**OMO** (at least one online and one in-store order), **online only**, **store only**, or
**other** (only sales channels that are neither, e.g. "other"). Per group: customers, net spend,
spend per customer, orders per customer, and retention = the share of the group's customers who
ordered again in the following period of the same length. The multiples divide the OMO group's
figure by the online-only and by the store-only group's. Online and in store are the sales
channels of omo.analytics.selectors (ONLINE_CHANNELS, IN_STORE_CHANNELS). The sales-channel filter
does not apply (it would leave no OMO customer).

One query: the orders of the period and the following one, grouped per customer (inner), then per
group (outer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from omo.analytics.reports.filters import ReportFilters
from omo.analytics.reports.sql import fetch, inner
from omo.analytics.selectors import IN_STORE_CHANNELS, NET, ONLINE_CHANNELS, rounded_division

OMO, ONLINE, STORE, OTHER = "omo", "online", "store", "other"
GROUPS = (OMO, ONLINE, STORE, OTHER)


@dataclass(frozen=True)
class Group:
    key: str
    customers: int = 0
    spend: int = 0
    orders: int = 0
    returned: int = 0  # customers who ordered again in the following period

    @property
    def spend_per_customer(self) -> int:
        return rounded_division(self.spend, self.customers)

    @property
    def orders_per_customer(self) -> float | None:
        return self.orders / self.customers if self.customers else None

    @property
    def retention(self) -> float | None:
        return self.returned / self.customers if self.customers else None


@dataclass(frozen=True)
class Multiples:
    spend: float | None
    orders: float | None
    retention: float | None


@dataclass(frozen=True)
class OmoContribution:
    groups: dict[str, Group]
    following_first: dt.date
    following_last: dt.date
    following_complete: bool  # False while the following period is still running

    @property
    def customers(self) -> int:
        return sum(group.customers for group in self.groups.values())

    @property
    def spend(self) -> int:
        return sum(group.spend for group in self.groups.values())

    def share(self, key: str, figure: str = "customers") -> float | None:
        total = getattr(self, figure)
        return getattr(self.groups[key], figure) / total if total else None

    def multiples(self, against: str) -> Multiples:
        """OMO ÷ `against` (ONLINE or STORE) per customer; None where either side has no customer."""
        omo, other = self.groups[OMO], self.groups[against]

        def ratio(a: float | None, b: float | None) -> float | None:
            return a / b if a is not None and b else None

        if not omo.customers or not other.customers:
            return Multiples(None, None, None)
        return Multiples(
            spend=ratio(omo.spend / omo.customers, other.spend / other.customers),
            orders=ratio(omo.orders_per_customer, other.orders_per_customer),
            retention=ratio(omo.retention, other.retention),
        )


_OUTER = """
SELECT CASE WHEN t.online > 0 AND t.in_store > 0 THEN 'omo'
            WHEN t.online > 0 THEN 'online'
            WHEN t.in_store > 0 THEN 'store'
            ELSE 'other' END AS grp,
       COUNT(*), SUM(t.spend), SUM(t.counted), SUM(CASE WHEN t.later > 0 THEN 1 ELSE 0 END)
FROM ({inner}) t
GROUP BY 1
"""


def omo_contribution(filters: ReportFilters) -> OmoContribution:
    following = filters.following()
    in_period = Q(placed_at__lt=filters.end)
    per_customer = (
        filters.orders(filters.start, following.end, channel=False)
        .filter(customer_id__isnull=False)
        .values("customer_id")
        .annotate(
            online=Count("id", filter=in_period & Q(sales_channel__in=ONLINE_CHANNELS)),
            in_store=Count("id", filter=in_period & Q(sales_channel__in=IN_STORE_CHANNELS)),
            counted=Count("id", filter=in_period),
            spend=Coalesce(Sum(NET, filter=in_period), 0),
            later=Count("id", filter=Q(placed_at__gte=filters.end)),
        )
        .filter(counted__gt=0)
    )
    sql, params = inner(per_customer)
    groups = {key: Group(key) for key in GROUPS}
    for key, customers, spend, orders, returned in fetch(_OUTER.format(inner=sql), params):
        groups[key] = Group(key, customers, int(spend or 0), int(orders or 0), int(returned or 0))
    return OmoContribution(
        groups=groups,
        following_first=following.first,
        following_last=following.last,
        following_complete=following.end <= timezone.now(),
    )
