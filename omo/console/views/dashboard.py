"""The dashboard: the last 30 days of sales in the brand's time zone, scoped like the viewer."""

from __future__ import annotations

from django.http import HttpResponse

from omo.analytics import charts, rollups
from omo.analytics import selectors as analytics
from omo.console.access import ConsoleRequest, console_view
from omo.console.pages import render_page
from omo.staff.roles import Scope

DASHBOARD_DAYS = 30


@console_view("dashboard.view")
def dashboard(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    brand = user.brand
    # Store managers see their store's figures only; HQ sees the whole brand.
    store_id = user.store_id if user.scope == Scope.STORE else None
    period = analytics.last_days(brand, DASHBOARD_DAYS)
    # From the daily rollup; from the orders themselves while it is being (re)built.
    figures = rollups.figures(brand, period, store_id=store_id)
    summary, daily, by_store, products = figures.summary, figures.daily, figures.by_store, figures.products
    return render_page(
        request,
        "console/dashboard.html",
        {
            "period": period,
            "period_first": period.days[0],
            "period_last": period.days[-1],
            "days": DASHBOARD_DAYS,
            "summary": summary,
            "from_rollup": figures.from_rollup,
            "scope_store": user.store if store_id is not None else None,
            "top_products": products,
            "daily_chart": charts.daily_sales_chart(daily, currency=brand.currency),
            "store_chart": charts.store_sales_chart(by_store, currency=brand.currency),
            "products_chart": charts.top_products_chart(products, currency=brand.currency),
        },
    )
