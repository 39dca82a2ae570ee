"""Server time of the shop product page and the console dashboard, with query counts.

    python -m bench.page_latency --iterations 50

In-process through Django's test client (the whole middleware stack, no network), over the
current DATABASE_URL with the seeded demo brand: product pages cycle through many products (so
no single page stays warm), the dashboard is requested as the demo `admin`. Reports p50/p95 in
milliseconds and the number of SQL queries per request.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from typing import Any

from bench._util import machine, percentile, setup_django


class PageUnavailable(RuntimeError):
    pass


def _product_path(handle: str) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("shop:product", kwargs={"brand_slug": "demo", "handle": handle})
    except NoReverseMatch:
        return f"/shop/p/{handle}/"


def _measure(client: Any, paths: list[str], iterations: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, statuses = [], [], {}
    client.get(paths[0])  # warm-up: imports, template loading and caches are not what we measure
    for i in range(iterations):
        path = paths[i % len(paths)]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 404 and i == 0:
            raise PageUnavailable(f"{path} answered 404")
        times.append(elapsed)
        queries.append(len(captured.captured_queries))
    return {
        "requests": iterations,
        "p50_ms": round(percentile(times, 50) * 1000, 1),
        "p95_ms": round(percentile(times, 95) * 1000, 1),
        "mean_queries": round(statistics.mean(queries), 1),
        "max_queries": max(queries),
        "statuses": statuses,
    }


def run(*, iterations: int = 50) -> dict[str, Any]:
    from django.test import Client

    from omo.catalog.models import Product
    from omo.commerce.models import Order
    from omo.customers.models import Customer
    from omo.devtools.seed import demo_brand
    from omo.staff.models import User

    brand = demo_brand()
    if brand is None:
        raise PageUnavailable("no demo brand: run `omo seed --demo` first")
    handles = list(
        Product.objects.filter(brand=brand, status=Product.Status.ACTIVE)
        .order_by("id")
        .values_list("handle", flat=True)[:200]
    )
    result: dict[str, Any] = {
        "benchmark": "page_latency",
        "data": {
            "customers": Customer.objects.filter(brand=brand).count(),
            "orders": Order.objects.filter(brand=brand).count(),
            "products": len(handles),
        },
        "machine": machine(),
    }
    shop = Client()
    try:
        result["shop_product"] = _measure(shop, [_product_path(h) for h in handles], iterations)
    except PageUnavailable as exc:
        result["shop_product"] = {"unavailable": str(exc)}
    console = Client()
    admin = User.objects.filter(brand=brand, username="admin").first()
    if admin is None:
        result["console_dashboard"] = {"unavailable": "no demo admin"}
    else:
        console.force_login(admin)
        as_of = _data_as_of(brand)
        result["dashboard_as_of"] = as_of.isoformat() if as_of else None
        try:
            with _clock_at(as_of):
                result["console_dashboard"] = _measure(console, ["/console/"], iterations)
        except PageUnavailable as exc:
            result["console_dashboard"] = {"unavailable": str(exc)}
    return result


def _data_as_of(brand: Any) -> Any:
    """The last order's time when the data ends more than a day ago (a seed made with --today):
    the dashboard shows the 30 days before *now*, which would then be empty and fast."""
    import datetime as dt

    from django.db.models import Max
    from django.utils import timezone

    from omo.commerce.models import Order

    last = Order.objects.filter(brand=brand).aggregate(last=Max("placed_at"))["last"]
    if last is None or timezone.now() - last < dt.timedelta(days=1):
        return None
    return last


@contextlib.contextmanager
def _clock_at(moment: Any) -> Any:
    """django.utils.timezone.now() returns `moment` inside (None: the real clock)."""
    if moment is None:
        yield
        return
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    setup_django()
    from bench._util import database_label

    try:
        result = run(iterations=args.iterations)
    except PageUnavailable as exc:
        print(f"page latency benchmark not run: {exc}", file=sys.stderr)
        return 3
    result["database"] = database_label()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    data = result["data"]
    print(
        f"page latency on {result['database']}, demo data: {data['customers']:,} customers, "
        f"{data['orders']:,} orders, {data['products']} active products; {args.iterations} requests each"
    )
    if result.get("dashboard_as_of"):
        print(f"  the dashboard is measured as of the data's last order, {result['dashboard_as_of']}")
    for label, key in (
        ("shop product page /shop/…/p/<handle>/", "shop_product"),
        ("console dashboard /console/", "console_dashboard"),
    ):
        figures = result[key]
        if "unavailable" in figures:
            print(f"  {label}: not measured ({figures['unavailable']})")
        else:
            print(
                f"  {label}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                f"{figures['mean_queries']} queries (max {figures['max_queries']}), statuses {figures['statuses']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
