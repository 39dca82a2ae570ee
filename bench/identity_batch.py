"""Identity resolution over a brand's history (target: ≥ 5,000 identifiers/s on PostgreSQL).

    DATABASE_URL=postgres://…/omo_ident_bench python -m bench.identity_batch --customers 1000000

Builds its own brand with N customers as an import from an older system leaves them: a phone and
an email on every profile, a member number on every second one, and no identifier rows yet. Every
1,000th person was imported twice (a second profile with the same phone, no member number), so
the run also makes that many automatic merges. Then times `omo.customers.tasks.resolve_history`
(the task and `omo resolve_identities` run the same), and runs it again to show it is idempotent.
Data is generated set-wise (generate_series on PostgreSQL, bulk_create elsewhere) and is not part
of the timing. The brand is deleted afterwards unless --keep. The database must be migrated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import asdict
from typing import Any

from bench._util import database_label, machine, setup_django

DUPLICATE_EVERY = 1000


def _generate(customers: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from omo.core.models import Brand
    from omo.customers.models import Customer

    tag = uuid.uuid4().hex[:8]
    now = timezone.now()
    duplicates = customers // DUPLICATE_EVERY
    with transaction.atomic():
        brand = Brand.objects.create(name=f"identity bench {tag}", slug=f"ident-bench-{tag}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {Customer._meta.db_table} (brand_id, name, phone, email, member_number, tags, notes,
                        search_text, created_at, updated_at)
                    SELECT %(brand)s, 'c' || g, '+88691' || lpad(g::text, 7, '0'), 'c' || g || '@bench.example',
                        CASE WHEN g %% 2 = 0 THEN 'M' || g ELSE '' END, '[]'::jsonb, '', '', %(now)s, %(now)s
                    FROM generate_series(1, %(n)s) AS g
                    UNION ALL
                    SELECT %(brand)s, 'dup' || g, '+88691' || lpad(g::text, 7, '0'), '', '', '[]'::jsonb, '', '', %(now)s,
                        %(now)s
                    FROM generate_series(%(every)s, %(n)s, %(every)s) AS g
                    """,
                    {"brand": brand.pk, "now": now, "n": customers, "every": DUPLICATE_EVERY},
                )
                cursor.execute("ANALYZE")
        else:
            rows = [
                Customer(
                    brand=brand,
                    name=f"c{g}",
                    phone=f"+88691{g:07d}",
                    email=f"c{g}@bench.example",
                    member_number=f"M{g}" if g % 2 == 0 else "",
                )
                for g in range(1, customers + 1)
            ]
            rows += [
                Customer(brand=brand, name=f"dup{g}", phone=f"+88691{g:07d}")
                for g in range(DUPLICATE_EVERY, customers + 1, DUPLICATE_EVERY)
            ]
            Customer.objects.bulk_create(rows, batch_size=5000)
    return {"brand_id": brand.pk, "customer_rows": customers + duplicates, "duplicates": duplicates}


def _cleanup(brand_id: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for table in (
            "customers_mergesuggestion",
            "customers_customermerge",
            "customers_customeridentity",
            "customers_customersettings",
            "core_auditlog",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE brand_id = %s", [brand_id])
        cursor.execute("UPDATE customers_customer SET merged_into_id = NULL WHERE brand_id = %s", [brand_id])
        cursor.execute("DELETE FROM customers_customer WHERE brand_id = %s", [brand_id])
        cursor.execute("DELETE FROM core_brand WHERE id = %s", [brand_id])


def run(*, customers: int = 1_000_000, chunk: int = 5000, keep: bool = False) -> dict[str, Any]:
    setup_django()
    from django.db import connection

    from omo.core.models import Brand
    from omo.customers import tasks
    from omo.customers.models import CustomerIdentity, CustomerMerge

    started = time.perf_counter()
    made = _generate(customers)
    generate_seconds = time.perf_counter() - started
    brand = Brand.objects.get(pk=made["brand_id"])
    try:
        load_before = round(os.getloadavg()[0], 2)
        report = tasks.resolve_history(brand, chunk=chunk)
        load_after = round(os.getloadavg()[0], 2)
        again = tasks.resolve_history(brand, chunk=chunk)
        identities = CustomerIdentity.objects.filter(brand=brand).count()
        merges = CustomerMerge.objects.filter(brand=brand).count()
    finally:
        if not keep:
            _cleanup(brand.pk)
    return {
        "benchmark": "identity_batch",
        "database": database_label() if connection.vendor else "",
        "customers": customers,
        **made,
        "generate_seconds": round(generate_seconds, 2),
        "identifiers": report.identifiers,
        "seconds": report.seconds,
        "identifiers_per_second": round(report.identifiers / report.seconds) if report.seconds else None,
        "target_identifiers_per_second": 5000,
        "first_run": asdict(report),
        "rerun": asdict(again),
        "identity_rows": identities,
        "merges": merges,
        "load_average_1m": [load_before, load_after],
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5000, help="rows per resolve batch")
    parser.add_argument("--keep", action="store_true", help="keep the generated brand and its rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    result = run(customers=args.customers, chunk=args.chunk, keep=args.keep)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"resolved {result['identifiers']:,} identifiers of {result['customer_rows']:,} customer rows on "
            f"{result['database']} in {result['seconds']} s ({result['identifiers_per_second']:,}/s, target 5,000/s; "
            f"data generated in {result['generate_seconds']} s)"
        )
        print(
            f"identifier rows: {result['identity_rows']:,}; automatic merges: {result['merges']:,} "
            f"(duplicates seeded: {result['duplicates']:,}); re-run attached {result['rerun']['attached']} "
            f"and merged {result['rerun']['merges']} in {result['rerun']['seconds']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
