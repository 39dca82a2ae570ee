"""What every report is narrowed by: a run of local days, a store, a clerk, a sales channel.

- **Period**: `first`..`last`, whole local days in the brand's time zone, both included.
- **Comparison**: the previous period of the same length, or the same days a year earlier.
- **Store**: an order belongs to a store when it was placed there (POS, pick-up) or credited to it
  by attribution (an online order sold by one of its clerks), so a store's online sales count.
- **Clerk**: orders credited to the clerk (attribution) or rung up by them at the till.
- **Sales channel**: the order's sales channel.

Reports about customers rather than orders (RFM, members of a cell) read the customers who have
ever bought at the store, through the clerk and in the sales channel (`customers`). A store manager's filters always carry their store (the console
forces it), whatever the request says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from omo.analytics import selectors
from omo.attribution.models import Attribution
from omo.commerce.models import Order
from omo.core.models import Brand


class Comparison:
    NONE = ""
    PREVIOUS = "previous"
    LAST_YEAR = "last_year"
    ALL = (NONE, PREVIOUS, LAST_YEAR)


@dataclass(frozen=True)
class ReportFilters:
    brand: Brand
    first: dt.date
    last: dt.date  # included
    store_id: int | None = None
    clerk_id: int | None = None
    sales_channel: str = ""

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the period ends before it starts")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.brand.time_zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.zone)

    @property
    def start(self) -> dt.datetime:
        return self.midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the midnight after the last day."""
        return self.midnight(self.last + dt.timedelta(days=1))

    @property
    def period(self) -> selectors.Period:
        return selectors.Period(start=self.start, end=self.end, tz=self.zone)

    def shifted(self, first: dt.date, last: dt.date) -> ReportFilters:
        return replace(self, first=first, last=last)

    def following(self) -> ReportFilters:
        """The period of the same length right after this one."""
        return self.shifted(self.last + dt.timedelta(days=1), self.last + dt.timedelta(days=self.days))

    def compared(self, comparison: str) -> ReportFilters | None:
        """The comparison period, or None when there is none."""
        if comparison == Comparison.PREVIOUS:
            return self.shifted(self.first - dt.timedelta(days=self.days), self.first - dt.timedelta(days=1))
        if comparison == Comparison.LAST_YEAR:
            return self.shifted(_year_before(self.first), _year_before(self.last))
        return None

    # --- the rows the filters select ---------------------------------------------------------------

    def order_scope(self, *, channel: bool = True) -> Q:
        """Store, clerk and (unless `channel` is False) sales channel, as a filter on orders."""
        condition = Q()
        if self.store_id is not None:
            condition &= Q(store_id=self.store_id) | Q(attribution__store_id=self.store_id)
        if self.clerk_id is not None:
            condition &= Q(attribution__clerk_id=self.clerk_id) | Q(staff_id=self.clerk_id)
        if channel and self.sales_channel:
            condition &= Q(sales_channel=self.sales_channel)
        return condition

    def orders(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None, *, channel: bool = True
    ) -> QuerySet[Order]:
        """Counted orders (not cancelled) between start and end (default: the period), filtered."""
        return (
            Order.objects.filter(
                self.order_scope(channel=channel),
                brand=self.brand,
                placed_at__gte=start or self.start,
                placed_at__lt=end or self.end,
            )
            .exclude(status=Order.Status.CANCELLED)
            .order_by()
        )

    @property
    def narrowed(self) -> bool:
        return self.store_id is not None or self.clerk_id is not None or bool(self.sales_channel)

    def customers(self) -> Q:
        """A filter on `customer_id`: customers who have bought at (or been credited to) the store,
        been credited to (or served at the till by) the clerk, and bought through the sales
        channel, each ever; an empty Q without those filters. Each part is its own semi-join, so
        the store's and the clerk's indexes serve it."""
        condition = Q()
        counted = Order.objects.filter(brand=self.brand, customer_id__isnull=False).exclude(
            status=Order.Status.CANCELLED
        )
        credited = Attribution.objects.filter(brand=self.brand, order__customer_id__isnull=False).exclude(
            order__status=Order.Status.CANCELLED
        )

        def buyers(orders: QuerySet[Order]) -> QuerySet:
            return orders.order_by().values("customer_id")

        def credited_buyers(attributions: QuerySet[Attribution]) -> QuerySet:
            return attributions.order_by().values("order__customer_id")

        if self.store_id is not None:
            condition &= Q(customer_id__in=buyers(counted.filter(store_id=self.store_id))) | Q(
                customer_id__in=credited_buyers(credited.filter(store_id=self.store_id))
            )
        if self.clerk_id is not None:
            condition &= Q(customer_id__in=buyers(counted.filter(staff_id=self.clerk_id))) | Q(
                customer_id__in=credited_buyers(credited.filter(clerk_id=self.clerk_id))
            )
        if self.sales_channel:
            condition &= Q(customer_id__in=buyers(counted.filter(sales_channel=self.sales_channel)))
        return condition


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def default_filters(brand: Brand, *, days: int = 30, now: dt.datetime | None = None) -> ReportFilters:
    """The last `days` local days, today included."""
    today = timezone.localtime(now or timezone.now(), ZoneInfo(brand.time_zone)).date()
    return ReportFilters(brand=brand, first=today - dt.timedelta(days=days - 1), last=today)


def today(brand: Brand, now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now(), ZoneInfo(brand.time_zone)).date()
