"""Reading the dashboard's figures from the rollup, with the same answers as omo.analytics.selectors
gives from the orders (which it falls back to while the rollup is not ready).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db.models import QuerySet, Sum

from omo.analytics import selectors
from omo.analytics.models import (
    NO_STORE,
    UNKNOWN_PRODUCT,
    WHOLE_BRAND,
    CustomerDay,
    ProductSalesDay,
    SalesDay,
)
from omo.analytics.rollups.rebuilding import ready
from omo.catalog.models import Product
from omo.commerce.models import SalesChannel
from omo.core.models import Brand
from omo.staff.models import Store

_Day = TypeVar("_Day", SalesDay, ProductSalesDay, CustomerDay)


@dataclass(frozen=True)
class Figures:
    summary: selectors.SalesSummary
    daily: selectors.DailySales
    by_store: list[selectors.StoreSales]
    products: list[selectors.ProductSales]
    from_rollup: bool


def figures(brand: Brand, period: selectors.Period, *, store_id: int | None = None, top: int = 10) -> Figures:
    """The dashboard's figures: from the rollup when it is ready, otherwise from the orders."""
    if not ready(brand):
        return Figures(
            summary=selectors.sales_summary(brand, period, store_id=store_id),
            daily=selectors.daily_sales_by_channel(brand, period, store_id=store_id),
            by_store=selectors.sales_by_store(brand, period, store_id=store_id),
            products=selectors.top_products(brand, period, store_id=store_id, limit=top),
            from_rollup=False,
        )
    return Figures(
        summary=sales_summary(brand, period, store_id=store_id),
        daily=daily_sales_by_channel(brand, period, store_id=store_id),
        by_store=sales_by_store(brand, period, store_id=store_id),
        products=top_products(brand, period, store_id=store_id, limit=top),
        from_rollup=True,
    )


def _days(model: type[_Day], brand: Brand, period: selectors.Period) -> QuerySet[_Day]:
    days = period.days
    return model.objects.filter(brand=brand, day__gte=days[0], day__lte=days[-1]).order_by()


def sales_summary(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> selectors.SalesSummary:
    """selectors.sales_summary from the rollup. Three queries."""
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    totals = sales.aggregate(net=Sum("net", default=0), orders=Sum("orders", default=0))
    customers = (
        _days(CustomerDay, brand, period)
        .filter(scope=store_id or WHOLE_BRAND)
        .aggregate(customers=Sum("customers", default=0), omo=Sum("omo_customers", default=0))
    )
    return selectors.SalesSummary(
        net_sales=totals["net"],
        orders=totals["orders"],
        average_order_value=selectors.rounded_division(totals["net"], totals["orders"]),
        customers_ordered=customers["customers"],
        new_customers=selectors.new_customers(brand, period, store_id=store_id),
        omo_customers=customers["omo"],
    )


def daily_sales_by_channel(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> selectors.DailySales:
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    days = period.days
    position = {day: index for index, day in enumerate(days)}
    by_channel: dict[str, list[int]] = {}
    for row in sales.values("day", "sales_channel").annotate(net=Sum("net"), orders=Sum("orders")):
        if not row["orders"]:
            continue  # every order of the cell was cancelled since
        series = by_channel.setdefault(row["sales_channel"], [0] * len(days))
        series[position[row["day"]]] += row["net"] or 0
    ordered = {channel: by_channel[channel] for channel in SalesChannel.values if channel in by_channel}
    return selectors.DailySales(days=days, by_channel=ordered)


def sales_by_store(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> list[selectors.StoreSales]:
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    rows = [
        row for row in sales.values("store_id").annotate(net=Sum("net"), count=Sum("orders")) if row["count"]
    ]  # a handful of stores: ordered below, the way the orders' query orders them
    names = dict(
        (pk, (name, name_en))
        for pk, name, name_en in Store.objects.filter(
            brand=brand, pk__in=[row["store_id"] for row in rows if row["store_id"] != NO_STORE]
        ).values_list("pk", "name", "name_en")
    )
    result = []
    for row in rows:
        pk = None if row["store_id"] == NO_STORE else row["store_id"]
        name, name_en = names.get(row["store_id"], ("", ""))  # none for NO_STORE
        result.append(
            selectors.StoreSales(
                store_id=pk, name=name, name_en=name_en, net_sales=row["net"] or 0, orders=row["count"]
            )
        )
    # the orders' order: largest first, then "no store" (NULL) where the live query puts it
    return sorted(result, key=lambda s: (-s.net_sales, s.store_id is None, s.store_id or 0))


def top_products(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None, limit: int = 10
) -> list[selectors.ProductSales]:
    products = _days(ProductSalesDay, brand, period)
    if store_id is not None:
        products = products.filter(store_id=store_id)
    rows = list(
        products.values("product_id")
        .annotate(revenue=Sum("revenue"), units=Sum("units"), counted=Sum("lines"))
        .filter(counted__gt=0)  # products whose every line was cancelled since are not sold
        .order_by("-revenue", "product_id")[:limit]
    )
    ids = [row["product_id"] for row in rows if row["product_id"] != UNKNOWN_PRODUCT]
    titles = {
        pk: (title, title_en)
        for pk, title, title_en in Product.objects.filter(brand=brand, pk__in=ids).values_list(
            "pk", "title", "title_en"
        )
    }
    result = []
    for row in rows:
        pk = None if row["product_id"] == UNKNOWN_PRODUCT else row["product_id"]
        title, title_en = titles.get(row["product_id"], ("", ""))  # none for UNKNOWN_PRODUCT
        result.append(
            selectors.ProductSales(
                product_id=pk,
                title=title,
                title_en=title_en,
                revenue=row["revenue"] or 0,
                units=row["units"] or 0,
            )
        )
    return result
