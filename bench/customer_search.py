"""Customer search at scale: seed N customers fast, then time a mix of searches.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python -m bench.customer_search --customers 1000000

On PostgreSQL it creates a database of its own (named after the run), migrates it, seeds the
customers with one INSERT … SELECT over generate_series (names from common Taiwanese surnames and
given names, +8869… mobile numbers, emails, member numbers, and the search text the services
write), ANALYZEs, runs the searches and drops the database. With SQLite (the smoke test) it
seeds the current database through the ORM instead.

Each search is what the console customer list runs for a page: `omo.customers.search.search`
over the brand's customers, newest first, the first 50. The mix: full names, given names (two
characters), four-digit phone fragments, the last six digits, a whole number typed with dashes,
whole emails, the local part of an email, member numbers. Reports p50/p95 overall and per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench._util import ROOT, child_env, database_label, machine, percentile

SURNAMES = (
    "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周徐蘇葉莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴"
)
GIVEN = [
    "怡君",
    "志明",
    "美玲",
    "雅婷",
    "家豪",
    "冠宇",
    "淑芬",
    "俊傑",
    "詩涵",
    "宗翰",
    "佳穎",
    "建宏",
    "欣怡",
    "承恩",
    "惠雯",
    "柏翰",
    "郁婷",
    "志豪",
    "雅雯",
    "彥廷",
    "心怡",
    "品妤",
    "宇軒",
    "婉婷",
    "子晴",
    "信宏",
    "思穎",
    "俊宏",
    "靜怡",
    "家瑋",
]
KINDS = ("full_name", "given_name", "phone_4", "phone_last6", "phone_typed", "email", "email_local", "member")

# search_text as omo.customers.search.build_search_text writes it for these rows (no chat contacts).
_SEED_SQL = """
INSERT INTO customers_customer
    (brand_id, name, phone, email, member_number, tags, notes, search_text, created_at, updated_at)
SELECT %(brand)s, s.name, s.phone, s.email, s.member, '[]'::jsonb, '',
       ' ' || s.name || ' ' || substr(s.name, 1, 1) || ' ' || substr(s.name, 2) || ' ' || s.phone || ' '
           || '0' || substr(s.phone, 5) || ' ' || s.email || ' ' || lower(s.member) || ' ',
       now(), now()
FROM (
    SELECT g,
           substr(%(surnames)s::text, (1 + g * 7 %% %(n_surnames)s)::int, 1)
               || (%(given)s::text[])[(1 + g * 13 %% %(n_given)s)::int] AS name,
           '+8869' || lpad(((g * 7919 + 12345) %% 100000000)::text, 8, '0') AS phone,
           'user' || g || '@mail.example.com' AS email,
           'M' || lpad(g::text, 8, '0') AS member
    FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
) s
"""


def _phone(g: int) -> str:
    return f"+8869{(g * 7919 + 12345) % 100000000:08d}"


def _name(g: int) -> str:
    return SURNAMES[g * 7 % len(SURNAMES)] + GIVEN[g * 13 % len(GIVEN)]


def _queries(customers: int, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    queries = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        g = rng.randrange(1, customers + 1)
        phone = _phone(g)
        local = "0" + phone[4:]
        if kind == "full_name":
            q = _name(g)
        elif kind == "given_name":
            q = _name(g)[1:]
        elif kind == "phone_4":
            start = rng.randrange(2, len(local) - 4)
            q = local[start : start + 4]
        elif kind == "phone_last6":
            q = local[-6:]
        elif kind == "phone_typed":
            q = f"{local[:4]}-{local[4:7]}-{local[7:]}"
        elif kind == "email":
            q = f"user{g}@mail.example.com"
        elif kind == "email_local":
            q = f"user{g}@"
        else:
            q = f"M{g:08d}"
        queries.append((kind, q))
    return queries


def _seed_postgres(brand_id: int, customers: int, chunk: int = 200_000) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for start in range(1, customers + 1, chunk):
            cursor.execute(
                _SEED_SQL,
                {
                    "brand": brand_id,
                    "surnames": SURNAMES,
                    "n_surnames": len(SURNAMES),
                    "given": GIVEN,
                    "n_given": len(GIVEN),
                    "start": start,
                    "stop": min(customers, start + chunk - 1),
                },
            )
        # The identifiers the customer services write beside each customer.
        for kind, column in (("phone", "phone"), ("email", "email"), ("member_number", "member_number")):
            cursor.execute(
                "INSERT INTO customers_customeridentity (brand_id, customer_id, kind, value, verified, source, "
                "created_at) SELECT brand_id, id, %s, " + column + ", false, 'bench', now() "
                "FROM customers_customer WHERE brand_id = %s",
                [kind, brand_id],
            )
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_customeridentity")


def _seed_orm(brand_id: int, customers: int) -> None:
    from omo.customers import search
    from omo.customers.models import Customer, CustomerIdentity

    rows = []
    for g in range(1, customers + 1):
        name, phone = _name(g), _phone(g)
        email, member = f"user{g}@mail.example.com", f"M{g:08d}"
        text = search.build_search_text(name=name, phone=phone, email=email, member_number=member)
        rows.append(
            Customer(
                brand_id=brand_id, name=name, phone=phone, email=email, member_number=member, search_text=text
            )
        )
    Customer.objects.bulk_create(rows, batch_size=1000)
    CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(brand_id=brand_id, customer=c, kind=kind, value=getattr(c, kind), source="bench")
            for c in rows
            for kind in ("phone", "email", "member_number")
        ],
        batch_size=1000,
    )


def run(*, customers: int, searches: int = 400, seed: int = 7) -> dict[str, Any]:
    from django.db import connection

    from omo.core.models import Brand
    from omo.customers import search
    from omo.customers.models import Customer

    brand = Brand.objects.create(name="bench search", slug=f"bench-search-{uuid.uuid4().hex[:8]}")
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        _seed_postgres(brand.pk, customers)
    else:
        _seed_orm(brand.pk, customers)
    seed_seconds = time.perf_counter() - started
    # The seeded text must be what the services write.
    sample = Customer.objects.filter(brand=brand).order_by("id")[:50]
    mismatched = [c.pk for c in sample if search.search_text_for(c) != c.search_text]
    assert not mismatched, f"seeded search_text differs from build_search_text for {mismatched[:5]}"
    base = Customer.objects.filter(brand=brand)
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    empty = 0
    plan = ""
    for index, (kind, query) in enumerate(_queries(customers, searches, seed)):
        t0 = time.perf_counter()
        rows = list(
            search.search(base, query, brand_id=brand.pk).order_by("-id").values_list("id", flat=True)[:50]
        )
        timings[kind].append(time.perf_counter() - t0)
        empty += not rows
        if index == 0 and connection.vendor == "postgresql":
            sql, params = (
                search.search(base, query, brand_id=brand.pk).order_by("-id")[:50].query.sql_with_params()
            )
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
    every = [t for values in timings.values() for t in values]
    return {
        "benchmark": "customer_search",
        "database": database_label(),
        "customers": customers,
        "seed_seconds": round(seed_seconds, 1),
        "searches": len(every),
        "empty_results": empty,
        "p50_ms": round(percentile(every, 50) * 1000, 2),
        "p95_ms": round(percentile(every, 95) * 1000, 2),
        "max_ms": round(max(every) * 1000, 2) if every else 0.0,
        "by_kind": {
            kind: {"p50_ms": round(percentile(v, 50) * 1000, 2), "p95_ms": round(percentile(v, 95) * 1000, 2)}
            for kind, v in timings.items()
        },
        "plan_first_query": plan,
        "machine": machine(),
    }


def _own_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main(argv: list[str] | None = None) -> int:
    import subprocess

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the database afterwards")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres") and not args.inner:
        # A database of our own: created, migrated, measured, dropped.
        import psycopg

        name = f"bench_search_{uuid.uuid4().hex[:8]}"
        admin = url if urlsplit(url).path not in ("", "/") else _own_database(url, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        own = _own_database(url, name)
        try:
            subprocess.run(
                [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
                cwd=ROOT,
                env=child_env(own),
                check=True,
            )
            inner = [
                sys.executable,
                "-m",
                "bench.customer_search",
                "--inner",
                "--customers",
                str(args.customers),
                "--searches",
                str(args.searches),
                "--seed",
                str(args.seed),
            ] + (["--json"] if args.json else [])
            return subprocess.run(inner, cwd=ROOT, env=child_env(own), check=False).returncode
        finally:
            if not args.keep:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    from bench._util import setup_django

    setup_django()
    result = run(customers=args.customers, searches=args.searches, seed=args.seed)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"customer search on {result['database']}, {result['customers']:,} customers "
        f"(seeded in {result['seed_seconds']} s): {result['searches']} searches, "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms "
        f"({result['empty_results']} found nobody)"
    )
    for kind, figures in result["by_kind"].items():
        print(f"  {kind:12} p50 {figures['p50_ms']:8.2f} ms   p95 {figures['p95_ms']:8.2f} ms")
    if result["plan_first_query"]:
        print("  plan of the first search:\n    " + result["plan_first_query"].replace("\n", "\n    "))
    print(f"  machine: {result['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
