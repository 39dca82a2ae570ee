"""Order rows per second through `omo import_csv orders` (target: ≥ 2,000 rows/s).

    python -m bench.csv_import --lines 70000          # on the current DATABASE_URL (migrated)

Makes its own brand as a shop importing its order history would have it: 4 stores with stock
locations and stock, 8 clerks, 300 variants, 3,000 known customers (phone, most with an email,
every third with a member number). Then writes an N-line orders CSV (one row per order line,
1-3 lines per order, placed over two years): 55% POS sales at a store with the clerk's code,
the rest web shop, marketplace and other sales; 40% of orders by a known customer (by phone,
email or member number), 40% by new phone numbers (each seen about twice in the file), 10% by
email only, 10% anonymous; mostly paid, some fulfilled, placed or cancelled; one order in 500 has a
bad row (an unknown SKU without a title), reported as a row error. Generating is not part of the
timing. Times `import_csv orders FILE --brand SLUG` in this process, then imports the same file
again (every order already there: the idempotent re-import). The brand and its rows are kept
(a new brand each run); `--csv` keeps the file too.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._util import database_label, machine, setup_django

TARGET_ROWS_PER_SECOND = 2000
STORES = 4
CLERKS_PER_STORE = 2
VARIANTS = 300
KNOWN_CUSTOMERS = 3000
BAD_ORDER_EVERY = 500


def _known_phone(n: int) -> str:
    return f"+88691{n:07d}"


def _make_brand() -> dict[str, Any]:
    """A brand with stores, clerks, a catalogue with stock and known customers (set-wise)."""
    from django.db import transaction

    from omo.catalog.models import Location, Product, StockLevel, Variant
    from omo.core.models import Brand
    from omo.customers import services as customer_services
    from omo.staff.models import Store, User

    tag = uuid.uuid4().hex[:8]
    with transaction.atomic():
        brand = Brand.objects.create(name=f"CSV bench {tag}", slug=f"csv-bench-{tag}")
        stores, clerks = [], []
        for s in range(STORES):
            store = Store.objects.create(
                brand=brand, code=f"S{s + 1:02d}", name=f"門市 {s + 1}", city="台北市"
            )
            Location.objects.create(brand=brand, code=store.code, name=store.name, kind="store", store=store)
            stores.append(store.code)
            for c in range(CLERKS_PER_STORE):
                code = f"E{s + 1}{c + 1:02d}"
                User.objects.create(
                    brand=brand, username=f"bench-{tag}-{code}", role="clerk", store=store, employee_code=code
                )
                clerks.append((store.code, code))
        products = Product.objects.bulk_create(
            [Product(brand=brand, handle=f"p{p}", title=f"商品 {p}") for p in range(VARIANTS // 3)]
        )
        variants = Variant.objects.bulk_create(
            [
                Variant(
                    brand=brand,
                    product=products[v // 3],
                    sku=f"SKU-{v:04d}",
                    title="SML"[v % 3],
                    price=(290 + 10 * (v % 50)) * 100,
                )
                for v in range(VARIANTS)
            ]
        )
        locations = list(Location.objects.filter(brand=brand))
        StockLevel.objects.bulk_create(
            [
                StockLevel(brand=brand, variant=variant, location=location, on_hand=1000)
                for variant in variants
                for location in locations
            ]
        )
        refs: list[dict[str, str] | None] = [
            {
                "name": f"老顧客{n}",
                "phone": _known_phone(n),
                "email": f"known{n}@bench.example" if n % 4 else "",
                "member_number": f"M{n:06d}" if n % 3 == 0 else "",
            }
            for n in range(KNOWN_CUSTOMERS)
        ]
        for start in range(0, len(refs), 1000):
            customer_services.resolve_customers(brand, refs[start : start + 1000], source="bench")
    return {
        "brand": brand.slug,
        "stores": stores,
        "clerks": clerks,
        "variants": [(v.sku, v.price) for v in variants],
    }


def write_csv(out: io.TextIOBase, lines: int, made: dict[str, Any], *, seed: int = 1) -> dict[str, int]:
    """Write an N-line orders CSV for the brand `made` describes; how many orders and bad rows."""
    rng = random.Random(seed)
    writer = csv.writer(out, lineterminator="\n")
    from omo.commerce.importers import CSV_COLUMNS  # function-level: after setup_django()

    writer.writerow(CSV_COLUMNS)
    start = dt.datetime(2024, 12, 1, 10, 0)
    written = orders = bad = 0
    new_people = max(1, lines // 4)
    while written < lines:
        orders += 1
        n_lines = min(rng.choice((1, 1, 1, 2, 2, 3)), lines - written)
        channel = rng.choices(("pos", "web_shop", "marketplace", "other"), (55, 30, 10, 5))[0]
        store_code, staff_code = rng.choice(made["clerks"]) if channel == "pos" else ("", "")
        who = rng.random()
        phone = email = name = member = ""
        if who < 0.4:
            n = rng.randrange(KNOWN_CUSTOMERS)
            way = rng.random()
            if way < 0.6:
                phone, name = _known_phone(n).replace("+886", "0"), f"老顧客{n}"
            elif way < 0.8 and n % 4:
                email = f"known{n}@bench.example"
            elif n % 3 == 0:
                member = f"M{n:06d}"
            else:
                phone = _known_phone(n)
        elif who < 0.8:
            p = rng.randrange(new_people)
            phone, name = f"09{70000000 + p:08d}", f"新顧客{p}"
            if rng.random() < 0.3:
                email = f"new{p}@bench.example"
        elif who < 0.9:
            email = f"mail{rng.randrange(new_people)}@bench.example"
        placed = start + dt.timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        status = rng.choices(("paid", "fulfilled", "placed", "cancelled"), (70, 20, 5, 5))[0]
        shipping = "" if channel == "pos" else rng.choice(("", "60", "120"))
        is_bad = orders % BAD_ORDER_EVERY == 0
        for i, (sku, price) in enumerate(rng.sample(made["variants"], n_lines)):
            if is_bad and i == n_lines - 1:
                sku = "NO-SUCH-SKU"
                bad += 1
            quantity = rng.choice((1, 1, 1, 2))
            writer.writerow(
                (
                    "bench-erp",
                    f"O{orders:08d}",
                    f"R{orders:08d}",
                    channel,
                    store_code,
                    staff_code,
                    placed.strftime("%Y-%m-%d %H:%M"),
                    phone,
                    email,
                    name,
                    member,
                    sku,
                    "",
                    quantity,
                    price // 100,
                    rng.choice(("", "", "", "10")),
                    shipping,
                    status,
                )
            )
        written += n_lines
    return {"orders": orders, "bad_orders": orders // BAD_ORDER_EVERY, "bad_rows": bad}


def _backend_cpu() -> float | None:
    """CPU seconds this connection's PostgreSQL backend has used (None on SQLite or if unreadable)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _import(path: Path, brand: str, *, verbosity: int) -> dict[str, Any]:
    """Wall seconds, this process's CPU seconds and the database backend's (PostgreSQL, same machine)."""
    from django.core.management import call_command

    out = io.StringIO()
    backend_before = _backend_cpu()
    cpu_before = time.process_time()
    started = time.perf_counter()
    call_command("import_csv", "orders", str(path), brand=brand, stdout=out, verbosity=verbosity)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    backend_after = _backend_cpu()
    backend = (
        backend_after - backend_before if backend_before is not None and backend_after is not None else None
    )
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "database_cpu_seconds": round(backend, 2) if backend is not None else None,
        # What one idle core each would give: the two processes mostly wait for each other.
        "rows_per_cpu_second": round(_lines(path) / (cpu + (backend or 0))) if cpu else None,
    }


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def run(
    *, lines: int = 70_000, seed: int = 1, csv_path: str | None = None, quiet: bool = False
) -> dict[str, Any]:
    setup_django()
    from django.db import connection

    from omo.commerce.models import Order, OrderLine
    from omo.core.models import Brand, ImportJob

    started = time.perf_counter()
    made = _make_brand()
    keep = csv_path is not None
    path = Path(csv_path) if csv_path else Path(tempfile.mkstemp(suffix=".csv", prefix="orders-")[1])
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            written = write_csv(out, lines, made, seed=seed)
        generate_seconds = time.perf_counter() - started
        load_before = round(os.getloadavg()[0], 2)
        first_run = _import(path, made["brand"], verbosity=0 if quiet else 1)
        load_after = round(os.getloadavg()[0], 2)
        brand = Brand.objects.get(slug=made["brand"])
        first = ImportJob.objects.filter(brand=brand).latest("pk")
        orders = Order.objects.filter(brand=brand).count()
        order_lines = OrderLine.objects.filter(brand=brand).count()
        again_run = _import(path, made["brand"], verbosity=0 if quiet else 1)
        again = ImportJob.objects.filter(brand=brand).latest("pk")
        unchanged = (
            Order.objects.filter(brand=brand).count(),
            OrderLine.objects.filter(brand=brand).count(),
        ) == (
            orders,
            order_lines,
        )
    finally:
        if not keep:
            path.unlink(missing_ok=True)
    return {
        "benchmark": "csv_import",
        "database": database_label() if connection.vendor else "",
        "brand": made["brand"],
        "lines": lines,
        **written,
        "generate_seconds": round(generate_seconds, 2),
        **first_run,
        "rows_per_second": round(lines / first_run["seconds"]) if first_run["seconds"] else None,
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "imported_rows": first.applied_rows,
        "error_rows": first.error_rows,
        "orders_recorded": orders,
        "order_lines_recorded": order_lines,
        "reimport": {
            **again_run,
            "rows_per_second": round(lines / again_run["seconds"]) if again_run["seconds"] else None,
            "imported_rows": again.applied_rows,
            "error_rows": again.error_rows,
            "unchanged": unchanged,
        },
        "load_average_1m": [load_before, load_after],
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=70_000, help="order lines (CSV rows) to import")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", help="write the generated CSV here and keep it")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    print(f"importing {args.lines:,} order lines", file=sys.stderr)
    result = run(lines=args.lines, seed=args.seed, csv_path=args.csv, quiet=args.json)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"imported {result['lines']:,} order lines ({result['orders']:,} orders) on {result['database']} in "
        f"{result['seconds']} s: {result['rows_per_second']:,} rows/s (target {TARGET_ROWS_PER_SECOND:,}/s); "
        f"CPU {result['cpu_seconds']} s here + {result['database_cpu_seconds'] or 0} s in the database = "
        f"{result['rows_per_cpu_second']:,} rows per CPU second; load {result['load_average_1m']}"
    )
    print(
        f"rows imported {result['imported_rows']:,}, with errors {result['error_rows']:,} "
        f"(bad rows written: {result['bad_rows']}); orders {result['orders_recorded']:,}, "
        f"lines {result['order_lines_recorded']:,}"
    )
    again = result["reimport"]
    print(
        f"re-import: {again['seconds']} s ({again['rows_per_second']:,} rows/s, "
        f"{again['rows_per_cpu_second']:,} per CPU second), imported {again['imported_rows']:,}, "
        f"with errors {again['error_rows']:,}, nothing changed: {again['unchanged']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
