"""Demo data: 「森日 Morning Forest」, a Taiwanese lifestyle apparel and goods brand.

Stores, staff, a catalogue with stock, customers with identities, 12 months of orders from every
sales channel, refunds, coupons and a loyalty ledger that agrees with the orders.

Deterministic for (seed, today), whatever the number of worker processes: `random.Random(seed)`
makes the brand, stores, staff and catalogue; customers come in fixed chunks, each with its own
`random.Random` from (seed, chunk index) and its own share of ids, order numbers and coupon caps
(omo/devtools/seed_stream.py), and every date is an offset from `today`.

Memory stays bounded at any size: customers are generated and written a chunk at a time, and
nothing of a chunk is kept once it is written. The big tables skip the ORM: PostgreSQL gets COPY
text, SQLite executemany, with ids from ranges reserved in the id sequences beforehand, so foreign
keys are written without reading a single row back. On PostgreSQL, worker processes generate and
write chunks side by side (omo/devtools/seed_load.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from omo.analytics import rollups
from omo.catalog.models import (
    Product,
    Variant,
)
from omo.commerce.models import Order, OrderLine, Refund
from omo.core.models import Brand
from omo.customers.models import Customer, CustomerIdentity
from omo.devtools.demo_facts import (
    CUSTOMER_TAGS,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DISTRICTS,
    EMAIL_DOMAINS,
    FREE_SHIPPING_FROM,
    GIVEN_F,
    GIVEN_M,
    ROADS,
    SHIPPING_FEE,
    SIZES,
    SURNAMES,
    SeedError,
    Size,
    cumulative,
    ean13,
    sample_table,
)
from omo.devtools.seed_brand import DemoBrandSetup
from omo.devtools.seed_load import (
    BulkLoadSchema,
    Layout,
    LoadError,
    LoadResult,
    Table,
    analyze,
    default_workers,
    load_in_process,
    load_in_workers,
)
from omo.devtools.seed_plan import DAY, TAIPEI, StreamPlan
from omo.devtools.seed_story import DemoStory, StoryReport, story_counts
from omo.devtools.seed_tables import STREAMED, purge_brand
from omo.loyalty.models import (
    CouponCode,
    CouponRedemption,
    LoyaltyAccount,
    PointsEntry,
)
from omo.segments import scores
from omo.segments.clv import services as clv
from omo.staff.models import Store, User

# --- the generator -----------------------------------------------------------------------------------


@dataclass
class SeedReport:
    size: str
    seed: int
    today: str
    seconds: float = 0.0
    workers: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    story_customer: str = ""


class DemoSeeder(DemoBrandSetup):
    """Builds the demo brand. Use `seed_demo()`; this class holds the state of one run."""

    def __init__(
        self,
        size: Size,
        seed: int,
        today: dt.date,
        *,
        progress: bool = True,
        log: Callable[[str], None] | None = None,
        fast: bool | None = None,
        workers: int | None = None,
        story: bool = True,
    ):
        """fast: PostgreSQL bulk-load mode (no FK triggers, indexes rebuilt after); default for medium and up.
        workers: processes that generate and write customers on PostgreSQL (default: one per core).
        story: add the bindings, clicks, attribution, roster and chats (omo/devtools/seed_story.py)."""
        self.size = size
        self.seed = seed
        self.today = today
        self.progress = progress
        self.story = story
        self.log = log or (lambda message: None)
        self.rng = random.Random(seed)
        self.workers = workers or default_workers()
        self.pg = connection.vendor == "postgresql"
        self.fast = self.pg and (size.name in ("medium", "large") if fast is None else fast)
        # Orders are placed before today 00:00 Taipei time, over the 365 days before it.
        self.now_t = int(dt.datetime.combine(today, dt.time(0), TAIPEI).timestamp())
        self.window_start_t = self.now_t - 365 * DAY
        self.program_start_t = self.now_t - 380 * DAY  # points moved over from the old system then
        self._build_time_tables()

    # -- time -----------------------------------------------------------------------------------------

    def _build_time_tables(self) -> None:
        """Timestamps are ints (UTC seconds) until written; text comes from two lookup tables."""
        suffix = "+00" if self.pg else ""
        self.day0 = self.now_t // DAY - 5 * 366
        n_days = 7 * 366
        epoch = dt.date(1970, 1, 1)
        self.day_text = [(epoch + dt.timedelta(days=self.day0 + i)).isoformat() for i in range(n_days)]
        self.tod_text = [f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)]
        # Points live 12 calendar months (relativedelta semantics on the UTC date), as the loyalty services do.
        self.plus_year = []
        for i in range(n_days):
            d = epoch + dt.timedelta(days=self.day0 + i)
            try:
                later = d.replace(year=d.year + 1)
            except ValueError:  # 29 February
                later = d.replace(year=d.year + 1, day=28)
            self.plus_year.append((later - d).days * DAY)
        # Day weights over the 365 local days of the window, separately for stores and online.
        store_w, online_w = [], []
        for i in range(365):
            day = self.today - dt.timedelta(days=365 - i)
            month_factor = {1: 1.2, 2: 0.85, 5: 1.1, 6: 1.05, 10: 1.15, 11: 1.3, 12: 1.25}.get(day.month, 1.0)
            weekday = day.weekday()
            store_w.append(month_factor * (1.55 if weekday >= 5 else 1.15 if weekday == 4 else 1.0))
            spike = {(11, 11): 4.0, (6, 18): 2.0, (12, 12): 2.0}.get((day.month, day.day), 1.0)
            online_w.append(month_factor * spike * (1.1 if weekday >= 5 else 1.0))
        self.weekdays = [(self.today - dt.timedelta(days=365 - i)).weekday() for i in range(365)]
        self.store_cum = cumulative(store_w)
        self.online_cum = cumulative(online_w)
        # Online orders by local hour: lunch break and the evening on the sofa.
        self.online_hours = sample_table(
            [
                0.6,
                0.3,
                0.15,
                0.1,
                0.1,
                0.1,
                0.2,
                0.5,
                0.9,
                1.1,
                1.2,
                1.4,
                1.9,
                1.6,
                1.2,
                1.2,
                1.2,
                1.3,
                1.4,
                1.6,
                2.0,
                2.4,
                2.5,
                1.5,
            ],
            1024,
        )
        # The anniversary sale (週年慶): the latest 15 Oct - 5 Nov that ended before today.
        year = today_year = self.today.year
        while dt.date(year, 11, 5) >= self.today:
            year -= 1
        del today_year
        self.anniversary = (
            int(dt.datetime(year, 10, 15, tzinfo=TAIPEI).timestamp()),
            int(dt.datetime(year, 11, 6, tzinfo=TAIPEI).timestamp()),
        )

    # -- the whole run -----------------------------------------------------------------------------------

    def run(self) -> SeedReport:
        started = time.perf_counter()
        report = SeedReport(self.size.name, self.seed, self.today.isoformat())
        fast = self.fast
        with transaction.atomic():
            self._create_brand()
            self._create_stores_and_staff()
            self._create_catalogue()
            self._create_loyalty()
        loaded = self._stream_customers(fast=fast)
        self._finish(loaded)
        story = (
            DemoStory(
                self.brand,
                seed=self.seed,
                today=self.today,
                now_t=self.now_t,
                size_name=self.size.name,
                log=self.log,
            ).run()
            if self.story
            else StoryReport()
        )
        self._score_customers()
        report.seconds = round(time.perf_counter() - started, 2)
        report.workers = loaded.workers
        report.counts = self._counts(loaded)
        report.counts["customers"] += story.customers_added
        report.counts["identities"] += story.identities_added
        report.story_customer = story.story_customer
        return report

    # -- fixed parts (small; through the ORM) --------------------------------------------------------------

    def _plan(self, tables: dict[str, Table]) -> StreamPlan:
        return StreamPlan(
            seed=self.seed,
            today=self.today,
            customers=self.size.customers,
            chunk=self.size.chunk,
            orders_per_customer=self.size.orders / self.size.customers,
            brand_id=self.brand_id,
            now_t=self.now_t,
            window_start_t=self.window_start_t,
            program_start_t=self.program_start_t,
            anniversary=self.anniversary,
            day0=self.day0,
            day_text=self.day_text,
            tod_text=self.tod_text,
            plus_year=self.plus_year,
            weekdays=self.weekdays,
            store_cum=self.store_cum,
            online_cum=self.online_cum,
            online_hours=self.online_hours,
            surnames=SURNAMES,
            surname_table=self.surname_table,
            given_f=GIVEN_F,
            given_m=GIVEN_M,
            email_domains=EMAIL_DOMAINS,
            districts=DISTRICTS,
            roads=ROADS,
            tags=CUSTOMER_TAGS,
            home_store_table=self.home_store_table,
            stores=self.stores,
            variants=self.variants,
            variant_table=self.variant_table,
            tiers=self.tiers,
            coupons=self.coupons,
            shared_codes=self.shared_codes,
            welcome_cap=self.welcome_cap,
            freeship_cap=self.freeship_cap,
            earn_points=self.program.earn_points,
            earn_per_amount=self.program.earn_per_amount,
            point_value=self.program.point_value,
            max_redeem_percent=self.program.max_redeem_percent,
            agent_ids=self.agent_ids,
            shipping_fee=SHIPPING_FEE,
            free_shipping_from=FREE_SHIPPING_FROM,
            postgres=self.pg,
            tails={key: table.tail for key, table in tables.items()},
        )

    def _stream_customers(self, *, fast: bool) -> LoadResult:
        tables = {key: Table(key, model, cols) for key, model, cols in STREAMED}
        self.layout = layout = Layout(self._plan(tables), tables)
        layout.reserve()
        outside = not connection.in_atomic_block
        schema = None
        if fast and outside and not self._other_brands_present():
            schema = BulkLoadSchema([table.db_table for table in tables.values()])
            schema.drop()
            self.log(
                f"dropped {len(schema.indexes)} secondary indexes and unique constraints for the load; "
                "they are built again at the end"
            )
        bar = _Progress(self.size.customers, enabled=self.progress)
        started = time.perf_counter()
        try:
            try:
                if self.pg and outside:
                    loaded = load_in_workers(
                        layout, workers=self.workers, fast=fast, on_chunk=bar.update, log=self.log
                    )
                else:
                    loaded = load_in_process(layout, fast=fast, on_chunk=bar.update, log=self.log)
            except LoadError as exc:
                raise SeedError(f"seeding the customers failed: {exc}") from exc
            bar.close()
            self.log(
                f"wrote {loaded.customers:,} customers and {sum(loaded.rows.values()):,} rows in "
                f"{time.perf_counter() - started:.0f} s ({loaded.workers} worker{'s' if loaded.workers > 1 else ''})"
            )
            return loaded
        finally:
            bar.close()
            if schema is not None:
                schema.restore(sessions=self.workers, log=self.log)

    def _other_brands_present(self) -> bool:
        return any(
            model._base_manager.exclude(brand_id=self.brand_id).exists()
            for model in (Customer, Order, OrderLine, PointsEntry)
        )

    def _finish(self, loaded: LoadResult) -> None:
        for code, count in loaded.coupon_uses.items():
            CouponCode.objects.filter(pk=self.shared_codes[code]).update(times_used=count)
        started = time.perf_counter()
        analyze([model._meta.db_table for _, model, _ in STREAMED], sessions=self.workers)
        if self.pg:
            self.log(f"analyzed the tables in {time.perf_counter() - started:.0f} s")
        # The dashboard's daily rollup, from the orders just written (they bypassed the services).
        built = rollups.rebuild(
            self.brand, days_per_chunk=90, customers_per_chunk=250_000
        )  # no other writers
        if self.pg:
            self.log(f"built the sales rollup in {built.seconds:.0f} s")

    def _score_customers(self) -> None:
        """RFM scores, lifecycle groups and the ready-made segments (顧客分群), as the nightly run
        makes them: as of now when seeding for today, else as of the seeded day's start."""
        now = timezone.now() if self.today == timezone.localdate() else self.aware(self.now_t)
        summary = scores.compute_scores(self.brand, now=now)
        self.log(
            f"scored {summary.customers:,} customers in {summary.seconds:.0f} s "
            f"(repurchase interval {summary.repurchase.days} days)"
        )
        # Predicted customer value (預測顧客價值), as the nightly refit makes it; `large` leaves it to
        # that refit (or `omo clv fit`), to keep the seed's time for the tables themselves.
        if self.size.name != "large":
            started = time.perf_counter()
            fitted = clv.refit(self.brand, now=now)
            shown = "shown" if fitted.fit.enough_history else f"not shown: {fitted.fit.reason}"
            self.log(
                f"fitted the predicted customer value in {time.perf_counter() - started:.0f} s ({shown})"
            )

    def _counts(self, loaded: LoadResult) -> dict[str, int]:
        """demo_counts() without counting the big tables again: the load knows what it wrote."""
        brand = self.brand
        rows = loaded.rows
        return {
            "stores": Store.objects.filter(brand=brand).count(),
            "staff": User.objects.filter(brand=brand).count(),
            "products": Product.objects.filter(brand=brand).count(),
            "variants": Variant.objects.filter(brand=brand).count(),
            "customers": rows["customers"],
            "identities": rows["identities"],
            "orders": rows["orders"],
            "order_lines": rows["lines"],
            "refunds": rows["refunds"],
            "points_entries": rows["points"],
            "coupon_codes": rows["codes"] + len(self.shared_codes),
            "coupon_redemptions": rows["redemptions"],
            "orders_total": loaded.totals.get("orders_total", 0),
            "refunded_total": loaded.totals.get("refunded_total", 0),
            "points_balance": loaded.totals.get("points_balance", 0),
            **story_counts(brand),
        }


class _Progress:
    """A tqdm bar made at the first update: after the worker processes are forked, so that they
    inherit none of its threads or locks."""

    def __init__(self, total: int, *, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.bar: Any = None

    def update(self, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                unit=" customers",
                unit_scale=True,
                file=sys.stderr,
                desc="seeding",
                smoothing=0.1,
            )
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --- public entry points --------------------------------------------------------------------------------


def demo_brand() -> Brand | None:
    return Brand.objects.filter(slug=DEMO_SLUG).first()


def demo_counts(brand: Brand) -> dict[str, int]:
    """Key figures of a seeded brand: row counts and money sums (the determinism check compares these)."""
    orders = Order.objects.filter(brand=brand)
    sums = orders.aggregate(total=Sum("total"), refunded=Sum("refunded_total"), n=Count("id"))
    return {
        "stores": Store.objects.filter(brand=brand).count(),
        "staff": User.objects.filter(brand=brand).count(),
        "products": Product.objects.filter(brand=brand).count(),
        "variants": Variant.objects.filter(brand=brand).count(),
        "customers": Customer.objects.filter(brand=brand).count(),
        "identities": CustomerIdentity.objects.filter(brand=brand).count(),
        "orders": sums["n"] or 0,
        "order_lines": OrderLine.objects.filter(brand=brand).count(),
        "refunds": Refund.objects.filter(brand=brand).count(),
        "points_entries": PointsEntry.objects.filter(brand=brand).count(),
        "coupon_codes": CouponCode.objects.filter(brand=brand).count(),
        "coupon_redemptions": CouponRedemption.objects.filter(brand=brand).count(),
        "orders_total": int(sums["total"] or 0),
        "refunded_total": int(sums["refunded"] or 0),
        "points_balance": int(
            LoyaltyAccount.objects.filter(brand=brand).aggregate(s=Sum("balance"))["s"] or 0
        ),
        **story_counts(brand),
    }


def seed_demo(
    *,
    size: str = "small",
    seed: int = 42,
    today: dt.date | None = None,
    reset: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    workers: int | None = None,
    customers: int | None = None,
) -> SeedReport:
    """Create the demo brand. Refuses when it exists, unless `reset` (which deletes it first).

    workers: processes that generate and write customers on PostgreSQL (default: one per core;
    the data is the same for any number). customers: scale the size to this many customers (orders
    in proportion), for measuring sizes between the named ones.
    """
    if size not in SIZES:
        raise SeedError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if workers is not None and workers < 1:
        raise SeedError("workers must be at least 1")
    chosen = SIZES[size]
    if customers is not None:
        if customers < 1:
            raise SeedError("customers must be at least 1")
        chosen = dataclasses.replace(
            chosen, customers=customers, orders=round(chosen.orders * customers / chosen.customers)
        )
    existing = demo_brand()
    if existing is not None:
        if not reset:
            raise SeedError(
                f"a brand with slug {DEMO_SLUG!r} ({existing.name}) exists already; "
                "run with --reset to delete it and seed again"
            )
        (log or (lambda m: None))(f"deleting the existing demo brand {existing.name} …")
        purge_brand(existing)
    seeder = DemoSeeder(
        chosen, seed, today or timezone.localdate(), progress=progress, log=log, workers=workers
    )
    return seeder.run()


__all__ = [
    "DEMO_PASSWORD",
    "DEMO_SLUG",
    "SIZES",
    "DemoSeeder",
    "SeedError",
    "SeedReport",
    "demo_brand",
    "demo_counts",
    "ean13",
    "purge_brand",
    "seed_demo",
]
