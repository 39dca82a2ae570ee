"""The chunked seeder: chunks that depend on nothing but (seed, chunk index), worker processes on
PostgreSQL, and the bulk-load schema given back whatever happens."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models, transaction

from omo.catalog.models import Product, Variant
from omo.customers.models import Customer
from omo.customers.search import search_text_for
from omo.devtools import seed as seeding
from omo.devtools import seed_load
from omo.devtools.seed_plan import TABLES
from omo.devtools.seed_story import MERGE_SUGGESTIONS
from omo.devtools.seed_stream import ChunkGenerator
from omo.devtools.seed_tables import STREAMED, purge_brand
from omo.loyalty.models import Coupon, Tier
from omo.staff.models import Store, User

TODAY = dt.date(2026, 5, 1)


class _RolledBack(Exception):
    pass


def _generator(size: str = "tiny", customers: int | None = None) -> tuple[seed_load.Layout, ChunkGenerator]:
    """A generator over the fixed parts of a demo brand that is rolled back at once (nothing is written)."""
    chosen = seeding.SIZES[size]
    if customers:
        chosen = dataclasses.replace(chosen, customers=customers)
    try:
        with transaction.atomic():
            seeder = seeding.DemoSeeder(chosen, 5, TODAY, progress=False)
            seeder._create_brand()
            seeder._create_stores_and_staff()
            seeder._create_catalogue()
            seeder._create_loyalty()
            tables = {key: seed_load.Table(key, model, cols) for key, model, cols in STREAMED}
            layout = seed_load.Layout(seeder._plan(tables), tables)
            layout.id_base = dict.fromkeys(TABLES, 1_000_000)
            raise _RolledBack
    except _RolledBack:
        pass
    return layout, ChunkGenerator(layout.plan)


@pytest.mark.django_db
def test_a_chunk_is_the_same_text_whoever_makes_it_and_whenever():
    layout, first = _generator(customers=500)  # 5 chunks of 100
    in_order = [first.generate(k, layout.ids(k), layout.counters(k)) for k in range(5)]
    second = ChunkGenerator(layout.plan)
    for k in (3, 1, 4):  # another worker, another order
        again = second.generate(k, layout.ids(k), layout.counters(k))
        assert again.text == in_order[k].text
        assert again.used == in_order[k].used and again.coupon_uses == in_order[k].coupon_uses
    # Every chunk stays inside its own blocks, so no two chunks share an id or a number.
    for rows in in_order:
        assert all(rows.used[key] <= layout.stride[key] for key in rows.used)
    # ... and different chunks are different customers.
    assert in_order[0].text["customers"] != in_order[1].text["customers"]


@pytest.mark.django_db
def test_chunks_share_the_coupon_caps_and_together_stay_under_them():
    layout, generator = _generator(customers=500)
    plan = layout.plan
    uses = {"WELCOME100": 0, "FREESHIP": 0}
    for k in range(plan.chunks):
        rows = generator.generate(k, layout.ids(k), layout.counters(k))
        for code in uses:
            uses[code] += rows.coupon_uses[code]
    assert 0 < uses["WELCOME100"] <= plan.welcome_cap
    assert 0 < uses["FREESHIP"] <= plan.freeship_cap


@pytest.mark.django_db
def test_a_chunk_that_outgrows_its_blocks_is_made_again_elsewhere(monkeypatch):
    layout, generator = _generator()
    layout.stride = {**layout.stride, "orders": 10, "pos": 10}  # far too small on purpose
    messages: list[str] = []
    rows = layout.generate(generator, 1, messages.append)
    assert messages and "orders" in messages[0] and "pos" in messages[0]
    normal = generator.generate(1, layout.ids(1), layout.counters(1))
    # Same customers and orders; only where the ids and POS numbers come from moved.
    assert rows.used["orders"] == normal.used["orders"] > 10
    assert rows.text["customers"] == normal.text["customers"]
    assert rows.text["orders"] != normal.text["orders"]
    pos_numbers = [int(n) for n in re.findall(r"\tpos-erp\t[A-Z0-9]+-\d{8}-(\d+)\t", rows.text["orders"])]
    assert min(pos_numbers) > layout.plan.chunks * 10  # past every chunk's regular block


@pytest.mark.django_db
def test_customers_are_searchable_as_the_search_module_would_index_them():
    report = seeding.seed_demo(size="tiny", seed=3, today=TODAY, progress=False)
    customers = Customer.objects.filter(brand=seeding.demo_brand())
    assert customers.exclude(member_number="").count() == 200  # and the story's LINE-only few
    for customer in customers:
        assert customer.search_text == search_text_for(customer)
    assert report.counts == seeding.demo_counts(seeding.demo_brand())


def _dump(brand, layout: seed_load.Layout) -> dict[str, str]:
    """A digest per streamed table of every row, with ids made relative to the run's reserved
    blocks (also where they appear in text: web order names, idempotency keys, refunded lines) and
    references to the fixed tables as natural keys, so that two runs can be compared."""
    base = {layout.tables[key].model: layout.id_base[key] for key in TABLES}
    by_key = {key: layout.id_base[key] for key in TABLES}
    natural = {
        Store: dict(Store.objects.filter(brand=brand).values_list("pk", "code")),
        User: dict(User.objects.filter(brand=brand).values_list("pk", "username")),
        Variant: dict(Variant.objects.filter(brand=brand).values_list("pk", "sku")),
        Product: dict(Product.objects.filter(brand=brand).values_list("pk", "handle")),
        Coupon: dict(Coupon.objects.filter(brand=brand).values_list("pk", "name")),
        Tier: dict(Tier.objects.filter(brand=brand).values_list("pk", "name")),
    }

    def rebase(table: str) -> Callable[[re.Match], str]:
        return lambda m: f"{m.group(1)}{int(m.group(2)) - by_key[table]}"

    def text(value: str) -> str:
        value = re.sub(r"^((?:earn|redeem):order:)(\d+)$", rebase("orders"), value)
        value = re.sub(r"^(reverse:refund:)(\d+)$", rebase("refunds"), value)
        value = re.sub(r"^((?:adjust:migrate|expire:seed|adjust:seed):)(\d+)", rebase("customers"), value)
        return re.sub(r"(\bW)(\d+)\b", rebase("orders"), value)  # web orders are named after their id

    digests = {}
    for key in TABLES:
        model = layout.tables[key].model
        fields = [f for f in model._meta.concrete_fields if f.attname != "brand_id"]
        digest = hashlib.sha256()
        rows = (
            model._base_manager.filter(brand=brand).order_by("pk").values_list(*[f.attname for f in fields])
        )
        for row in rows:
            record = dict(zip([f.attname for f in fields], row, strict=True))
            if key == "codes" and record["customer_id"] is None:
                record["created_at"] = (
                    None  # the shared codes are made through the ORM, at the time of the run
                )
            values = []
            for f in fields:
                value = record[f.attname]
                target = (
                    f.related_model if isinstance(f, models.ForeignKey) else model if f.primary_key else None
                )
                if value is not None and target in base:
                    value = value - base[target]
                elif value is not None and target in natural:
                    value = natural[target][value]
                elif isinstance(value, str):
                    value = text(value)
                elif key == "refunds" and f.attname == "lines":
                    value = [(line["line_id"] - by_key["lines"], line["quantity"]) for line in value]
                values.append(repr(value))
            digest.update("|".join(values).encode())
        digests[key] = f"{rows.count()}:{digest.hexdigest()}"
    return digests


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_worker_and_two_workers_write_the_same_data():
    size = dataclasses.replace(seeding.SIZES["tiny"], customers=450, orders=2_700)  # 5 chunks
    runs = []
    for workers in (1, 2):
        existing = seeding.demo_brand()
        if existing is not None:
            purge_brand(existing)
        # The streamed rows only: the story (run after, in this process) stamps some rows with now.
        seeder = seeding.DemoSeeder(size, 9, TODAY, progress=False, workers=workers, story=False)
        report = seeder.run()
        runs.append((report, _dump(seeding.demo_brand(), seeder.layout)))
    (one, first), (two, second) = runs
    assert (one.workers, two.workers) == (1, 2)
    assert one.counts == two.counts == seeding.demo_counts(seeding.demo_brand())
    assert first == second


def _schema_state() -> tuple[set, set, list]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        indexes = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT conname, contype, condeferrable FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace"
        )
        constraints = set(cursor.fetchall())
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND reloptions IS NOT NULL ORDER BY relname"
        )
        options = cursor.fetchall()
    return indexes, constraints, options


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_load_in_workers_gives_back_indexes_constraints_and_autovacuum():
    before = _schema_state()
    logs: list[str] = []
    seeder = seeding.DemoSeeder(
        seeding.SIZES["tiny"], 7, TODAY, progress=False, fast=True, workers=2, log=logs.append
    )
    report = seeder.run()
    assert report.workers == 2
    assert any("unique constraints" in line for line in logs)
    assert _schema_state() == before
    brand = seeding.demo_brand()
    assert report.counts == seeding.demo_counts(brand)
    # The unique constraints were dropped for the load and checked again when rebuilt.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM commerce_order WHERE brand_id = %s"
            " GROUP BY source, external_id HAVING count(*) > 1) d",
            [brand.pk],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_stops_the_load_and_the_schema_comes_back(monkeypatch):
    before = _schema_state()
    real_write = seed_load.write_chunk

    def write(tables, rows):
        if rows.index == 1:
            raise RuntimeError("disk full (simulated)")
        real_write(tables, rows)

    monkeypatch.setattr(seed_load, "write_chunk", write)  # the forked workers inherit it
    seeder = seeding.DemoSeeder(seeding.SIZES["tiny"], 7, TODAY, progress=False, fast=True, workers=2)
    with pytest.raises(seeding.SeedError, match="disk full"):
        seeder.run()
    assert _schema_state() == before


@pytest.mark.django_db
def test_the_command_scales_a_size_and_takes_a_number_of_workers(capsys):
    call_command(
        "seed",
        "--demo",
        "--size",
        "tiny",
        "--customers",
        "150",
        "--workers",
        "1",
        "--today",
        "2026-05-01",
        "--no-progress",
    )
    assert Customer.objects.filter(brand=seeding.demo_brand()).exclude(member_number="").count() == 150
    assert f'"customers": {150 + MERGE_SUGGESTIONS}' in capsys.readouterr().out
    with pytest.raises(CommandError, match="workers must be at least 1"):
        call_command("seed", "--demo", "--size", "tiny", "--workers", "0", "--reset", "--no-progress")
