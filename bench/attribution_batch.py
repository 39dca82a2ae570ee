"""Attribution of many orders in one batch (target: 1,000,000 orders on PostgreSQL in ≤ 60 s).

    DATABASE_URL=postgres://…/omo_attr_bench python -m bench.attribution_batch --orders 1000000

Builds its own brand (clerks with coupon codes, customers, tracked links and clicks, orders with a
line each, a commission rule), then times `omo.attribution.services.attribute_orders` over every
order of the brand: the decisions (POS staff > clerk coupon > link click in window > none), the
reasons in words, and the commission entries (on PostgreSQL decided in SQL, omo/attribution/batch_sql.py,
on as many connections as OMO_ATTRIBUTION_WORKERS or the machine's cores). Data is generated set-wise (generate_series on
PostgreSQL, bulk_create elsewhere) and is not part of the timing. The brand is deleted afterwards
unless --keep. The database must be migrated (`omo migrate`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from typing import Any

from bench._util import machine, setup_django


def _generate(orders: int, *, seed: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from omo.attribution.models import Click, CommissionRule, LinkIssue
    from omo.binding.models import ClerkCode
    from omo.catalog.models import Category, Product
    from omo.commerce.models import Order, OrderLine
    from omo.core.models import Brand
    from omo.customers.models import Customer
    from omo.staff.models import Store, User

    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:8]
    now = timezone.now().replace(microsecond=0)
    customers_n = max(10, orders // 5)
    clerks_n = max(4, min(500, orders // 2000))
    with transaction.atomic():
        brand = Brand.objects.create(name=f"attribution bench {tag}", slug=f"attr-bench-{tag}")
        store = Store.objects.create(brand=brand, code="B1", name="Bench store")
        category = Category.objects.create(brand=brand, name="bench", slug=f"bench-{tag}")
        product = Product.objects.create(
            brand=brand, title="Bench tee", handle=f"bench-{tag}", category=category
        )
        clerks = User.objects.bulk_create(
            [
                User(
                    brand=brand,
                    username=f"bench-{tag}-{i}",
                    role="clerk",
                    store=store,
                    display_name=f"店員{i}",
                    employee_code=f"E{i:05d}",
                )
                for i in range(clerks_n)
            ]
        )
        ClerkCode.objects.bulk_create(
            [ClerkCode(brand=brand, clerk=c, code=f"{tag[:4]}{i:06d}".upper()) for i, c in enumerate(clerks)]
        )
        CommissionRule.objects.create(brand=brand, rate_bp=300, starts_on=dt.date(2000, 1, 1))
        CommissionRule.objects.create(
            brand=brand, category=category, store=store, rate_bp=500, starts_on=dt.date(2000, 1, 1)
        )
        customers = Customer.objects.bulk_create(
            [Customer(brand=brand, name=f"c{i}") for i in range(customers_n)], batch_size=5000
        )
        customer_ids = [c.pk for c in customers]
        clerk_ids = [c.pk for c in clerks]
        # A quarter of the customers clicked a clerk's card in the last 40 days (some outside the window).
        links = LinkIssue.objects.bulk_create(
            [
                LinkIssue(
                    brand=brand,
                    clerk_id=rng.choice(clerk_ids),
                    customer_id=customer_id,
                    product=product,
                    target=f"/shop/{brand.slug}/p/{product.handle}/",
                    issued_at=now - dt.timedelta(days=40),
                )
                for customer_id in customer_ids[: customers_n // 4]
            ],
            batch_size=5000,
        )
        Click.objects.bulk_create(
            [
                Click(
                    brand=brand,
                    link=link,
                    clerk_id=link.clerk_id,
                    customer_id=link.customer_id,
                    clicked_at=now - dt.timedelta(days=rng.randint(0, 40), hours=rng.randint(1, 20)),
                    is_preview=rng.random() < 0.05,
                    user_agent="bench",
                )
                for link in links
            ],
            batch_size=5000,
        )
        first_customer, last_customer = customer_ids[0], customer_ids[-1]
        first_clerk = clerk_ids[0]
        if connection.vendor == "postgresql":
            # Every 10th order a POS sale by a clerk, every 13th with a clerk coupon code, the rest online.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {Order._meta.db_table} (brand_id, source, external_id, name, sales_channel, store_id,
                        staff_id, staff_code, customer_id, contact_name, contact_phone, contact_email, fulfilment,
                        shipping_address, payment_method, currency, subtotal, discount_total, shipping_total,
                        tax_total, total, refunded_total, discounts, coupon_code, points_redeemed, status, ref, note,
                        placed_at, created_at)
                    SELECT %(brand)s, 'bench', 'o' || g, '', CASE WHEN g %% 10 = 0 THEN 'pos' ELSE 'web_shop' END,
                        CASE WHEN g %% 10 = 0 THEN %(store)s END,
                        CASE WHEN g %% 10 = 0 THEN %(first_clerk)s + (g %% %(clerks)s) END, '',
                        %(first_customer)s + (g %% %(customers)s), '', '', '', 'ship', '{{}}', 'external', 'TWD',
                        100000, 0, 0, 0, 100000, 0, '[]',
                        CASE WHEN g %% 13 = 0 THEN %(code_prefix)s || lpad((g %% %(clerks)s)::text, 6, '0') ELSE '' END,
                        0, 'paid', '', '', %(now)s - make_interval(hours => (g %% 240)), %(now)s
                    FROM generate_series(1, %(n)s) AS g
                    """,
                    {
                        "brand": brand.pk,
                        "store": store.pk,
                        "first_clerk": first_clerk,
                        "clerks": clerks_n,
                        "first_customer": first_customer,
                        "customers": last_customer - first_customer + 1,
                        "code_prefix": tag[:4].upper(),
                        "now": now,
                        "n": orders,
                    },
                )
                cursor.execute(
                    f"""
                    INSERT INTO {OrderLine._meta.db_table} (brand_id, order_id, product_id, sku, title, quantity,
                        unit_price, discount, total, refunded_quantity, placed_at)
                    SELECT brand_id, id, %(product)s, 'BENCH', 'Bench tee', 1, 100000, 0, 100000, 0, placed_at
                    FROM {Order._meta.db_table} WHERE brand_id = %(brand)s
                    """,
                    {"product": product.pk, "brand": brand.pk},
                )
                cursor.execute("ANALYZE")
        else:
            rows = []
            for g in range(1, orders + 1):
                pos = g % 10 == 0
                rows.append(
                    Order(
                        brand=brand,
                        source="bench",
                        external_id=f"o{g}",
                        sales_channel="pos" if pos else "web_shop",
                        store=store if pos else None,
                        staff_id=clerk_ids[g % clerks_n] if pos else None,
                        customer_id=customer_ids[g % customers_n],
                        subtotal=100000,
                        total=100000,
                        status="paid",
                        coupon_code=f"{tag[:4].upper()}{g % clerks_n:06d}" if g % 13 == 0 else "",
                        placed_at=now - dt.timedelta(hours=g % 240),
                    )
                )
            created = Order.objects.bulk_create(rows, batch_size=2000)
            OrderLine.objects.bulk_create(
                [
                    OrderLine(
                        brand=brand,
                        order=o,
                        product=product,
                        sku="BENCH",
                        title="Bench tee",
                        quantity=1,
                        unit_price=100000,
                        total=100000,
                        placed_at=o.placed_at,
                    )
                    for o in created
                ],
                batch_size=2000,
            )
    return {"brand_id": brand.pk, "customers": customers_n, "clerks": clerks_n, "clicks": len(links)}


def _cleanup(brand_id: int) -> None:
    from django.db import connection, transaction

    tables = [
        "attribution_commissionentry",
        "attribution_attribution",
        "attribution_click",
        "attribution_linkissue",
        "attribution_commissionrule",
        "commerce_orderline",
        "commerce_order",
        "customers_customer",
        "binding_clerkcode",
        "catalog_product",
        "catalog_category",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE brand_id = %s", [brand_id])
        cursor.execute("DELETE FROM staff_user WHERE brand_id = %s", [brand_id])
        cursor.execute("DELETE FROM staff_store WHERE brand_id = %s", [brand_id])
        cursor.execute("DELETE FROM core_brand WHERE id = %s", [brand_id])


def run(*, orders: int = 1_000_000, seed: int = 1, keep: bool = False) -> dict[str, Any]:
    setup_django()
    from django.db import connection

    from omo.attribution import services
    from omo.attribution.models import Attribution, CommissionEntry
    from omo.commerce.models import Order
    from omo.core.models import Brand

    started = time.perf_counter()
    made = _generate(orders, seed=seed)
    generate_seconds = time.perf_counter() - started
    brand = Brand.objects.get(pk=made["brand_id"])
    try:
        load_before = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        stats = services.attribute_orders(brand, Order.objects.filter(brand=brand))
        seconds = time.perf_counter() - started
        load_after = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        again = services.attribute_orders(brand, Order.objects.filter(brand=brand))
        rerun_seconds = time.perf_counter() - started
        attributions = Attribution.objects.filter(brand=brand).count()
        entries = CommissionEntry.objects.filter(brand=brand).count()
    finally:
        if not keep:
            _cleanup(brand.pk)
    return {
        "benchmark": "attribution_batch",
        "database": connection.vendor,
        "orders": orders,
        **made,
        "generate_seconds": round(generate_seconds, 2),
        "seconds": round(seconds, 2),
        "orders_per_second": round(orders / seconds) if seconds else None,
        "target_seconds_for_1m": 60,
        "by_rule": dict(stats.by_rule),
        "attributions": attributions,
        "commission_entries": entries,
        "rerun_considered": again.considered,
        "rerun_seconds": round(rerun_seconds, 2),
        "load_average_1m": [load_before, load_after],
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated brand and its rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    result = run(orders=args.orders, seed=args.seed, keep=args.keep)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"attributed {result['orders']:,} orders on {result['database']} in {result['seconds']} s "
            f"({result['orders_per_second']:,}/s; data generated in {result['generate_seconds']} s)"
        )
        print(
            f"by rule: {result['by_rule']}; commission entries: {result['commission_entries']:,}; "
            f"re-run considered {result['rerun_considered']} orders in {result['rerun_seconds']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
