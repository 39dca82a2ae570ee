"""Server time of the 分析 pages (docs/analytics.md), with query counts, on a seeded demo brand.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/omo_bench python -m bench.analytics_pages --seed medium
    python -m bench.analytics_pages --iterations 20          # the demo data already there

`--seed SIZE` first runs `omo seed --demo --size SIZE --reset` (bench.seed_large; medium is 50k
customers and 300k orders, large 1M and 10M). The RFM page reads per-customer scores that the
segments app computes; when the brand has none, quintile scores are written from the orders so the
page has a full grid to draw. Each page is requested `--iterations` times as the demo `admin`
(whole brand) and as a store manager, in-process through Django's test client, with the clock at
the data's last order (as bench.page_latency does). Reports p50/p95 in ms and queries per request.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench._util import database_label, machine, setup_django

PAGES = ("omo", "pareto", "rfm", "rfm/members", "cohorts", "bindings", "funnel", "lifecycle")
TARGET_P95_MS = 1000


def ensure_scores(brand: Any) -> int:
    """Quintile R/F/M scores from the orders for a brand that has none (set-based, then bulk rows)."""
    from django.db.models import Count, Max, Min, Sum
    from django.utils import timezone

    from omo.analytics.selectors import NET
    from omo.commerce.models import Order
    from omo.segments.models import CustomerScore

    if CustomerScore.objects.filter(brand=brand).exists():
        return CustomerScore.objects.filter(brand=brand).count()
    rows = list(
        Order.objects.filter(brand=brand, customer_id__isnull=False)
        .exclude(status=Order.Status.CANCELLED)
        .order_by()
        .values("customer_id")
        .annotate(orders=Count("id"), spend=Sum(NET), first=Min("placed_at"), last=Max("placed_at"))
    )
    if not rows:
        return 0

    def quintiles(key: Any) -> dict[int, int]:
        ordered = sorted(rows, key=key)
        return {row["customer_id"]: 1 + index * 5 // len(ordered) for index, row in enumerate(ordered)}

    r = quintiles(lambda row: row["last"])
    f = quintiles(lambda row: row["orders"])
    m = quintiles(lambda row: row["spend"] or 0)
    now = timezone.now()
    scores = [
        CustomerScore(
            brand=brand,
            customer_id=row["customer_id"],
            orders=row["orders"],
            spend=row["spend"] or 0,
            first_order_at=row["first"],
            last_order_at=row["last"],
            r=r[row["customer_id"]],
            f=f[row["customer_id"]],
            m=m[row["customer_id"]],
            rfm_segment="bench",
            computed_at=now,
        )
        for row in rows
    ]
    CustomerScore.objects.bulk_create(scores, batch_size=5000)
    return len(scores)


def run(*, iterations: int = 20) -> dict[str, Any]:
    from django.test import Client

    from bench.page_latency import PageUnavailable, _clock_at, _data_as_of, _measure
    from omo.binding.models import Binding
    from omo.commerce.models import Order
    from omo.customers.models import Customer
    from omo.devtools.seed import demo_brand
    from omo.staff.models import User

    brand = demo_brand()
    if brand is None:
        raise PageUnavailable("no demo brand: run `omo seed --demo` first (or pass --seed SIZE)")
    scores = ensure_scores(brand)
    result: dict[str, Any] = {
        "benchmark": "analytics_pages",
        "data": {
            "customers": Customer.objects.filter(brand=brand).count(),
            "orders": Order.objects.filter(brand=brand).count(),
            "bindings": Binding.objects.filter(brand=brand).count(),
            "scores": scores,
        },
        "machine": machine(),
        "pages": {},
    }
    viewers = {"admin": User.objects.filter(brand=brand, username="admin").first()}
    manager = User.objects.filter(brand=brand, role="store_manager", is_active=True).order_by("id").first()
    if manager is not None:
        viewers["store_manager"] = manager
    as_of = _data_as_of(brand)
    result["as_of"] = as_of.isoformat() if as_of else None
    with _clock_at(as_of):
        for viewer, user in viewers.items():
            if user is None:
                continue
            client = Client()
            client.force_login(user)
            for page in PAGES:
                path = f"/console/analytics/{page}/" + ("?r=5&f=5" if page == "rfm/members" else "")
                result["pages"][f"{viewer} {page}"] = _measure(client, [path], iterations)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument(
        "--seed", metavar="SIZE", help="seed the demo brand at this size first (tiny, small, medium, large)"
    )
    parser.add_argument("--today", help="the seed's last day (YYYY-MM-DD), with --seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    seeded = None
    if args.seed:
        import subprocess

        from bench import seed_large
        from bench._util import ROOT, child_env

        subprocess.run(
            [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=child_env(),
            check=True,
        )
        seeded = seed_large.run(args.seed, today=args.today)
    setup_django()
    from bench.page_latency import PageUnavailable

    try:
        result = run(iterations=args.iterations)
    except PageUnavailable as exc:
        print(f"analytics pages benchmark not run: {exc}", file=sys.stderr)
        return 3
    result["database"] = database_label()
    if seeded is not None:
        result["seed"] = {"size": seeded["size"], "wall_seconds": seeded["wall_seconds"]}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    data = result["data"]
    print(
        f"analytics pages on {result['database']}: {data['customers']:,} customers, {data['orders']:,} orders, "
        f"{data['bindings']:,} bindings, {data['scores']:,} scores; {args.iterations} requests each"
    )
    if result.get("as_of"):
        print(f"  measured as of the data's last order, {result['as_of']}")
    for name, figures in result["pages"].items():
        flag = "" if figures["p95_ms"] <= TARGET_P95_MS else f"  (over the {TARGET_P95_MS} ms target)"
        print(
            f"  {name:28} p50 {figures['p50_ms']:8.1f} ms  p95 {figures['p95_ms']:8.1f} ms  "
            f"{figures['mean_queries']} queries  {figures['statuses']}{flag}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
