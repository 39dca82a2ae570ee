"""Sales figures for dashboards, aggregated in the database.

Every function here runs a fixed number of queries whatever the number of orders: the database
groups and sums, Python only fills in the empty days. The filters lead with (brand, placed_at) or
(brand, store, placed_at) so the order indexes `order_brand_time` / `order_store_time` and the line
index `line_brand_time_product` serve them.

Definitions (shared by the console and, later, reports and exports):

- a sale counts when its order is not cancelled; refunds are subtracted (net = total - refunded);
- "in store" is the POS sales channel, "online" is the built-in shop, external web shops and
  marketplaces; OTHER is neither;
- days are calendar days in the brand's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.core.models import Brand
from omo.customers.models import Customer

ONLINE_CHANNELS: tuple[str, ...] = (
    SalesChannel.WEB_SHOP,
    SalesChannel.EXTERNAL_WEB,
    SalesChannel.MARKETPLACE,
)
IN_STORE_CHANNELS: tuple[str, ...] = (SalesChannel.POS,)

NET = ExpressionWrapper(F("total") - F("refunded_total"), output_field=BigIntegerField())
# A line's revenue after its refunded units, in integer arithmetic so both databases agree to the
# minor unit (the division truncates, at most one minor unit per partly refunded line).
LINE_NET = ExpressionWrapper(
    F("total") - F("total") * F("refunded_quantity") / F("quantity"), output_field=BigIntegerField()
)
LINE_UNITS = ExpressionWrapper(F("quantity") - F("refunded_quantity"), output_field=BigIntegerField())


@dataclass(frozen=True)
class Period:
    """A run of whole calendar days in one time zone: [start, end)."""

    start: dt.datetime
    end: dt.datetime
    tz: ZoneInfo

    @property
    def days(self) -> list[dt.date]:
        first = self.start.astimezone(self.tz).date()
        last = self.end.astimezone(self.tz).date()
        return [first + dt.timedelta(days=offset) for offset in range((last - first).days)]


def last_days(brand: Brand, days: int = 30, *, now: dt.datetime | None = None) -> Period:
    """The last `days` calendar days in the brand's time zone, today included."""
    tz = ZoneInfo(brand.time_zone)
    today = timezone.localtime(now or timezone.now(), tz).date()
    first = today - dt.timedelta(days=days - 1)
    return Period(
        start=dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        end=dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
        tz=tz,
    )


def counted_orders(brand: Brand, period: Period, *, store_id: int | None = None) -> QuerySet[Order]:
    """Orders that count as sales in the period; `store_id` narrows to one store (store managers)."""
    orders = Order.objects.filter(brand=brand, placed_at__gte=period.start, placed_at__lt=period.end)
    if store_id is not None:
        orders = orders.filter(store_id=store_id)
    # order_by() drops Meta.ordering so GROUP BY queries group by what we ask for, nothing more.
    return orders.exclude(status=Order.Status.CANCELLED).order_by()


@dataclass(frozen=True)
class SalesSummary:
    net_sales: int
    orders: int
    average_order_value: int
    customers_ordered: int
    new_customers: int
    omo_customers: int

    @property
    def omo_share(self) -> float | None:
        """Share (0..1) of ordering customers who bought both online and in store; None if none ordered."""
        if not self.customers_ordered:
            return None
        return self.omo_customers / self.customers_ordered


def rounded_division(amount: int, count: int) -> int:
    if not count:
        return 0
    return int((Decimal(amount) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sales_summary(brand: Brand, period: Period, *, store_id: int | None = None) -> SalesSummary:
    """Headline figures. Three queries.

    OMO customers bought at least once online and once in store within the period. New customers
    joined (were created) within the period; for a store, those whose home store it is.
    """
    orders = counted_orders(brand, period, store_id=store_id)
    totals = orders.aggregate(
        net=Coalesce(Sum(NET), 0),
        orders=Count("id"),
        customers=Count("customer", distinct=True),
    )
    omo_customers = (
        orders.filter(customer__isnull=False)
        .values("customer")
        .annotate(
            online=Count("id", filter=Q(sales_channel__in=ONLINE_CHANNELS)),
            in_store=Count("id", filter=Q(sales_channel__in=IN_STORE_CHANNELS)),
        )
        .filter(online__gt=0, in_store__gt=0)
        .count()
    )
    return SalesSummary(
        net_sales=totals["net"],
        orders=totals["orders"],
        average_order_value=rounded_division(totals["net"], totals["orders"]),
        customers_ordered=totals["customers"],
        new_customers=new_customers(brand, period, store_id=store_id),
        omo_customers=omo_customers,
    )


def new_customers(brand: Brand, period: Period, *, store_id: int | None = None) -> int:
    """Customers who joined in the period (index customer_recent); for a store, its home customers."""
    joined = Customer.objects.filter(brand=brand, created_at__gte=period.start, created_at__lt=period.end)
    if store_id is not None:
        joined = joined.filter(home_store_id=store_id)
    return joined.count()


@dataclass(frozen=True)
class DailySales:
    """Net sales per day and sales channel; every day of the period is present (0 when quiet)."""

    days: list[dt.date]
    by_channel: dict[str, list[int]] = field(default_factory=dict)

    @property
    def totals(self) -> list[int]:
        totals = [0] * len(self.days)
        for series in self.by_channel.values():
            for index, value in enumerate(series):
                totals[index] += value
        return totals


def daily_sales_by_channel(brand: Brand, period: Period, *, store_id: int | None = None) -> DailySales:
    """One query: GROUP BY local day, sales channel. Channels without sales are left out."""
    rows = (
        counted_orders(brand, period, store_id=store_id)
        .annotate(day=TruncDate("placed_at", tzinfo=period.tz))
        .values("day", "sales_channel")
        .annotate(net=Sum(NET))
    )
    days = period.days
    position = {day: index for index, day in enumerate(days)}
    by_channel: dict[str, list[int]] = {}
    for row in rows:  # one row per (day, channel): at most 30 × 5, never per order
        series = by_channel.setdefault(row["sales_channel"], [0] * len(days))
        series[position[row["day"]]] += row["net"] or 0
    # A stable order (the order channels are declared in) keeps colours the same between visits.
    ordered = {channel: by_channel[channel] for channel in SalesChannel.values if channel in by_channel}
    return DailySales(days=days, by_channel=ordered)


@dataclass(frozen=True)
class StoreSales:
    store_id: int | None  # None: orders without a store (online)
    name: str
    name_en: str
    net_sales: int
    orders: int


def sales_by_store(brand: Brand, period: Period, *, store_id: int | None = None) -> list[StoreSales]:
    """One query, largest first. Orders without a store (most online orders) form one row."""
    rows = (
        counted_orders(brand, period, store_id=store_id)
        .values("store_id", "store__name", "store__name_en")
        .annotate(net=Sum(NET), count=Count("id"))
        .order_by("-net", "store_id")
    )
    return [
        StoreSales(
            store_id=row["store_id"],
            name=row["store__name"] or "",
            name_en=row["store__name_en"] or "",
            net_sales=row["net"] or 0,
            orders=row["count"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ProductSales:
    product_id: int | None  # None: lines whose product is unknown (e.g. an unmatched POS SKU)
    title: str
    title_en: str
    revenue: int
    units: int


def top_products(
    brand: Brand, period: Period, *, store_id: int | None = None, limit: int = 10
) -> list[ProductSales]:
    """One query over order lines (index brand, placed_at, product), best revenue first."""
    lines = OrderLine.objects.filter(
        brand=brand, placed_at__gte=period.start, placed_at__lt=period.end, quantity__gt=0
    ).exclude(order__status=Order.Status.CANCELLED)
    if store_id is not None:
        lines = lines.filter(order__store_id=store_id)
    rows = (
        lines.values("product_id", "product__title", "product__title_en")
        .annotate(revenue=Sum(LINE_NET), units=Sum(LINE_UNITS))
        .order_by("-revenue", "product_id")[:limit]
    )
    return [
        ProductSales(
            product_id=row["product_id"],
            title=row["product__title"] or "",
            title_en=row["product__title_en"] or "",
            revenue=row["revenue"] or 0,
            units=row["units"] or 0,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ChannelSplit:
    """One customer's orders split into online and in store (every status but cancelled)."""

    online_net: int
    online_orders: int
    in_store_net: int
    in_store_orders: int
    other_net: int
    other_orders: int

    @property
    def is_omo(self) -> bool:
        return self.online_orders > 0 and self.in_store_orders > 0


def customer_channel_split(customer: Customer) -> ChannelSplit:
    """One query with conditional sums (index order_customer_time)."""
    online = Q(sales_channel__in=ONLINE_CHANNELS)
    in_store = Q(sales_channel__in=IN_STORE_CHANNELS)
    other = ~online & ~in_store
    totals = (
        Order.objects.filter(brand_id=customer.brand_id, customer=customer)
        .exclude(status=Order.Status.CANCELLED)
        .order_by()
        .aggregate(
            online_net=Coalesce(Sum(NET, filter=online), 0),
            online_orders=Count("id", filter=online),
            in_store_net=Coalesce(Sum(NET, filter=in_store), 0),
            in_store_orders=Count("id", filter=in_store),
            other_net=Coalesce(Sum(NET, filter=other), 0),
            other_orders=Count("id", filter=other),
        )
    )
    return ChannelSplit(**totals)
