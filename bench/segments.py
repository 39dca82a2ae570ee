"""Segments, RFM scores and the Pareto report in omo against DuckDB over the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/omo_bench python -m bench.segments --size medium
    python -m bench.segments --customers 400 --size tiny --json     # a small run
    python -m bench.segments                                         # the demo brand already there

`--size SIZE` and / or `--customers N` first migrate and run `omo seed --demo --size SIZE
[--customers N] --reset` (`--customers` alone: medium's mix); without either the demo brand
already in the database is used (the rows the bench added in an earlier run are replaced).
The seed has no tracked events and no consents, so the bench adds, with set-based SQL (and removes
its own rows from an earlier run first): "Product Viewed" events over the last 45 days for 40% of
the customers (category shoes or bags), LINE marketing consent decisions for 30% (a tenth of them
with a second decision, some at the same moment), and LINE chat contacts for half of them (some not
following, some blocked: the consent default reads them).

Then, with the clock at the real now:

(a) the five-condition segment of docs/segment-rules.md (orders online and in store in 90 days,
    spend ≥ NT$3,000 in 90 days, "Product Viewed" shoes in 30 days, a tag, LINE marketing consent):
    `members(brand, rule).count()` and a materialised `services.refresh` of a segment with it;
(b) `compute_scores` (RFM for every customer);
(c) the Pareto report over the last 12 months (365 days up to today in the brand's time zone).

The brand's customers, orders, events, consents and LINE contacts are exported from the same
database in the same run into an in-memory DuckDB; hand-written SQL answers (a), (b), (c) with omo's
semantics (bench/_segments_duck.py). The results must agree (member count, customers per R, F and
M score, the Pareto sums per percentile) and each timing is reported with the ratio omo ÷ DuckDB
against the 3× goal.

(d) an order batch of 500 (half for existing customers) through `commerce.services.record_orders`;
the incremental refresh is the rescoring of the batch's customers (run by the durable subscriber
after commit) plus the refresh of the segments the batch marked stale (`tasks.refresh_stale`, run
here directly instead of after its 30 s debounce), against the 1 s goal.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._util import database_label, machine, setup_django

GOAL_RATIO = 3.0
GOAL_INCREMENTAL_SECONDS = 1.0
SPEND = 3000  # NT$, as the rule writes it
BENCH_SOURCE = "bench.segments"
EVENT_PREFIX = "bench-seg-"
CONTACT_PREFIX = "Ubenchseg"


def rule(tag: str) -> dict[str, Any]:
    return {
        "all": [
            {"field": "orders.count", "op": "gte", "value": 1, "channel": "online", "last_days": 90},
            {"field": "orders.count", "op": "gte", "value": 1, "channel": "store", "last_days": 90},
            {"field": "orders.spend", "op": "gte", "value": SPEND, "last_days": 90},
            {
                "field": "events.count",
                "op": "gte",
                "value": 1,
                "event": "Product Viewed",
                "last_days": 30,
                "where": [{"property": "category", "op": "eq", "value": "shoes"}],
            },
            {"field": "tag", "op": "has", "value": tag},
            {"field": "consent.marketing", "op": "eq", "value": True, "platform": "line"},
        ]
    }


# --- the rows the seed lacks -------------------------------------------------------------------


def _sql_parts(vendor: str) -> dict[str, str]:
    """`ago` (a time before the parameter `now`, by whole days {d} and hours {h}), JSON and time literals."""
    if vendor == "postgresql":
        return {
            "ago": "(%s::timestamptz - make_interval(days => ({d})::int, hours => ({h})::int))",
            "json": "%s::jsonb",
            "now": "%s::timestamptz",
        }
    return {
        "ago": "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, '-' || ({d}) || ' days', '-' || ({h}) || ' hours')",
        "json": "%s",
        "now": "%s",
    }


def add_rows(brand: Any, now: dt.datetime) -> dict[str, int]:
    """Events, consents and LINE contacts for a share of the brand's customers (see the docstring)."""
    from django.db import connection, transaction

    from omo.customers.models import Consent
    from omo.inbox.models import Contact, Inbox
    from omo.tracking.models import TrackedEvent

    vendor = connection.vendor
    parts = _sql_parts(vendor)
    at = now if vendor == "postgresql" else now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    added: dict[str, int] = {}
    with transaction.atomic():
        TrackedEvent.objects.filter(brand=brand, message_id__startswith=EVENT_PREFIX).delete()
        Consent.objects.filter(brand=brand, source=BENCH_SOURCE).delete()
        Contact.objects.filter(brand=brand, external_user_id__startswith=CONTACT_PREFIX).delete()
        inbox = Inbox.objects.filter(brand=brand, platform="line").order_by("pk").first()
        if inbox is None:
            inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
        with connection.cursor() as cursor:
            events = 0
            for slot in range(3):  # up to three events per customer, 0-44 days ago
                ago = parts["ago"].format(d=f"(c.id * 7 + {slot * 13}) %% 45", h="c.id %% 24")
                cursor.execute(
                    "INSERT INTO tracking_trackedevent (brand_id, type, event, message_id, anonymous_id, "
                    "user_id, customer_id, group_id, previous_id, properties, traits, context, received_at, "
                    f"timestamp) SELECT c.brand_id, 'track', 'Product Viewed', %s || c.id, '', '', c.id, '', '', "
                    f"CASE WHEN (c.id + {slot}) %% 3 = 0 THEN {parts['json']} ELSE {parts['json']} END, "
                    f"{parts['json']}, {parts['json']}, {ago}, {ago} FROM customers_customer c "
                    f"WHERE c.brand_id = %s AND (c.id * 37 + {slot * 11}) %% 100 < 40",
                    [
                        f"{EVENT_PREFIX}{slot}-",
                        '{"category": "shoes"}',
                        '{"category": "bags"}',
                        "{}",
                        "{}",
                        at,
                        at,
                        brand.pk,
                    ],
                )
                events += cursor.rowcount
            added["events"] = events
            consents = 0
            # a first decision for 30%, 0-199 days ago; a second one for a tenth, the other way round,
            # at the same moment for even ids (the later id holds) and a day later for odd ones
            for second, share, granted, days in (
                (False, 30, "c.id %% 3 <> 0", "c.id %% 200"),
                (True, 10, "c.id %% 3 = 0", "(c.id %% 200) - (c.id %% 2)"),
            ):
                ago = parts["ago"].format(d=days, h="0")
                cursor.execute(
                    "INSERT INTO customers_consent (brand_id, customer_id, platform, purpose, granted, source, "
                    f"note, recorded_at) SELECT c.brand_id, c.id, 'line', 'marketing', {granted}, %s, %s, {ago} "
                    f"FROM customers_customer c WHERE c.brand_id = %s AND (c.id * 53) %% 100 < {share}",
                    [BENCH_SOURCE, "second" if second else "", at, brand.pk],
                )
                consents += cursor.rowcount
            added["consents"] = consents
            cursor.execute(
                "INSERT INTO inbox_contact (brand_id, inbox_id, external_user_id, customer_id, display_name, "
                "picture_url, language, is_follower, blocked_at, followed_at, created_at) "
                f"SELECT c.brand_id, %s, %s || c.id, c.id, '', '', '', c.id %% 5 <> 0, "
                f"CASE WHEN c.id %% 7 = 0 THEN {parts['now']} END, {parts['now']}, {parts['now']} "
                "FROM customers_customer c WHERE c.brand_id = %s AND (c.id * 71) %% 100 < 50 "
                "AND NOT EXISTS (SELECT 1 FROM inbox_contact k WHERE k.inbox_id = %s AND k.customer_id = c.id)",
                [inbox.pk, CONTACT_PREFIX, at, at, at, brand.pk, inbox.pk],
            )
            added["contacts"] = cursor.rowcount
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("tracking_trackedevent", "customers_consent", "inbox_contact"):
                cursor.execute(f"ANALYZE {table}")
    return added


def common_tag(brand: Any) -> str:
    """The tag most customers of the brand carry (the seed's tags; "VIP" when there are none)."""
    from collections import Counter

    from omo.customers.models import Customer

    counts: Counter[str] = Counter()
    for tags in Customer.objects.filter(brand=brand).values_list("tags", flat=True)[:5000]:
        counts.update(tags or [])
    return counts.most_common(1)[0][0] if counts else "VIP"


# --- timing ------------------------------------------------------------------------------------


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The median seconds of `repeat` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def compare(omo_seconds: float, duck_seconds: float, agree: bool) -> dict[str, Any]:
    ratio = omo_seconds / duck_seconds if duck_seconds > 0 else float("inf")
    return {
        "omo_seconds": round(omo_seconds, 4),
        "duckdb_seconds": round(duck_seconds, 4),
        "ratio": round(ratio, 2),
        "within_3x": ratio <= GOAL_RATIO,
        "agree": agree,
    }


@contextlib.contextmanager
def clocked(module: Any, name: str, into: dict[str, float]) -> Iterator[None]:
    """Add the seconds each call of `module.name` takes to `into[name]` (the subscribers call it)."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def incremental(brand: Any, batch_size: int) -> dict[str, Any]:
    """(d): a batch through the bulk order path, then the refresh it causes."""
    from django.utils import timezone

    from bench.order_ingest import _prepare
    from omo.commerce.schemas import OrderIn
    from omo.commerce.services.batch import record_orders
    from omo.core.audit import Actor
    from omo.segments import scores, stale, tasks
    from omo.segments.models import Segment

    tasks.refresh_stale.call(brand.pk)  # nothing stale before the batch
    _secret, _key, bodies = _prepare(1, batch_size, seed=int(time.time()))
    now = timezone.now()
    raws = json.loads(bodies[0])["orders"]
    for index, raw in enumerate(raws):  # placed in the minutes before the bench's now
        raw["placed_at"] = (now - dt.timedelta(seconds=5 * index + 1)).isoformat()
    orders = [OrderIn.model_validate(raw) for raw in raws]
    spent: dict[str, float] = {}
    started = time.perf_counter()
    with clocked(scores, "rescore_customers", spent), clocked(stale, "mark_stale", spent):
        outcomes = record_orders(brand, orders, actor=Actor.system(brand))
    recorded_seconds = time.perf_counter() - started
    stale_segments = Segment.objects.filter(brand=brand, stale_since__isnull=False).count()
    started = time.perf_counter()
    refreshed = tasks.refresh_stale.call(brand.pk)
    refresh_seconds = time.perf_counter() - started
    total = spent.get("rescore_customers", 0.0) + spent.get("mark_stale", 0.0) + refresh_seconds
    return {
        "orders": sum(1 for outcome in outcomes if outcome.order is not None),
        "record_orders_seconds": round(recorded_seconds, 3),
        "rescore_seconds": round(spent.get("rescore_customers", 0.0), 3),
        "mark_stale_seconds": round(spent.get("mark_stale", 0.0), 3),
        "stale_segments": stale_segments,
        "refresh_stale_seconds": round(refresh_seconds, 3),
        "refreshed": refreshed.get("refreshed"),
        "incremental_seconds": round(total, 3),
        "within_1s": total < GOAL_INCREMENTAL_SECONDS,
    }


def run(*, repeat: int = 3, batch_size: int = 500) -> dict[str, Any]:
    from django.utils import timezone

    from bench.page_latency import _clock_at, _data_as_of
    from omo.devtools.seed import demo_brand

    brand = demo_brand()
    if brand is None:
        raise RuntimeError("no demo brand: run `omo seed --demo` first (or pass --size SIZE)")
    # One fixed now for omo and DuckDB alike: the data's last order for a seed that ended days ago,
    # otherwise the current time (timezone.now() returns it throughout, as in bench.page_latency).
    now = _data_as_of(brand) or timezone.now()
    with _clock_at(now):
        return _measure(brand, now, repeat=repeat, batch_size=batch_size)


def _measure(brand: Any, now: dt.datetime, *, repeat: int, batch_size: int) -> dict[str, Any]:
    from django.db.models import Count

    from bench import _segments_duck as duck
    from omo.analytics.reports.filters import ReportFilters
    from omo.analytics.reports.pareto import pareto
    from omo.commerce.models import Order
    from omo.core.audit import Actor
    from omo.core.money import to_minor
    from omo.customers.models import Customer
    from omo.segments import rules, services
    from omo.segments.models import CustomerScore, Segment
    from omo.tracking.models import TrackedEvent

    added = add_rows(brand, now)
    tag = common_tag(brand)
    tree = rule(tag)
    result: dict[str, Any] = {
        "benchmark": "segments",
        "database": database_label(),
        "machine": machine(),
        "now": now.isoformat(),
        "tag": tag,
        "added": added,
        "data": {
            "customers": Customer.objects.filter(brand=brand).count(),
            "orders": Order.objects.filter(brand=brand).count(),
            "events": TrackedEvent.objects.filter(brand=brand).count(),
        },
    }

    # (a) the segment
    parsed = rules.parse(brand, tree)
    members_seconds, members = timed(lambda: rules.members(brand, parsed, now=now).count(), repeat)
    Segment.objects.filter(brand=brand, name="效能測試分眾").delete()
    segment = services.create_segment(brand, actor=Actor.system(brand), name="效能測試分眾", rule=tree)
    refresh_seconds, refreshed = timed(lambda: services.refresh(segment, "bench").members, repeat)
    # each condition alone, to check the parts too (not timed)
    conditions = [rules.members(brand, condition, now=now).count() for condition in tree["all"]]

    # (b) RFM and (c) Pareto
    scores_seconds, _summary = timed(lambda: services_compute(brand, now), repeat)
    omo_scores: dict[str, dict[int, int]] = {"r": {}, "f": {}, "m": {}}
    for measure in omo_scores:
        for score, n in (
            CustomerScore.objects.filter(brand=brand).order_by().values_list(measure).annotate(n=Count("pk"))
        ):
            omo_scores[measure][int(score)] = int(n)
    today = now.astimezone(ZoneInfo(brand.time_zone)).date()
    filters = ReportFilters(brand=brand, first=today - dt.timedelta(days=364), last=today)
    pareto_seconds, report = timed(lambda: pareto(filters), repeat)

    # DuckDB over the same rows
    with tempfile.TemporaryDirectory(prefix="omo-bench-segments-") as folder:
        exported = duck.export(brand.pk, Path(folder))
        con, load_seconds = duck.load(Path(folder))
    result["export"] = {**exported, "duckdb_load_seconds": round(load_seconds, 3)}
    spend = to_minor(SPEND, brand.currency)
    duck_members_seconds, duck_counts = timed(
        lambda: duck.segment_counts(con, now=now, spend=spend, tag=tag), repeat
    )
    duck_members = duck_counts[0]
    duck_scores_seconds, duck_scores = timed(
        lambda: duck.score_counts(con, now=now, zone=brand.time_zone), repeat
    )
    duck_pareto_seconds, (duck_customers, duck_percentiles) = timed(
        lambda: duck.pareto(con, start=filters.start, end=filters.end), repeat
    )
    con.close()

    def shares(percentiles: list[int]) -> dict[int, float | None]:
        total = sum(percentiles)
        return {p: (sum(percentiles[:p]) / total if total else None) for p in (10, 20, 50)}

    result["segment"] = {
        "members": members,
        "materialised": refreshed,
        "duckdb_members": duck_members,
        "conditions": conditions,
        "duckdb_conditions": duck_counts[1:],
        "count": compare(members_seconds, duck_members_seconds, [members, *conditions] == duck_counts),
        "refresh": compare(refresh_seconds, duck_members_seconds, refreshed == duck_members),
    }
    result["rfm"] = {
        "omo": omo_scores,
        "duckdb": duck_scores,
        **compare(scores_seconds, duck_scores_seconds, omo_scores == duck_scores),
    }
    result["pareto"] = {
        "customers": report.customers,
        "duckdb_customers": duck_customers,
        "shares": shares(report.by_percentile),
        "duckdb_shares": shares(duck_percentiles),
        **compare(
            pareto_seconds,
            duck_pareto_seconds,
            report.by_percentile == duck_percentiles and report.customers == duck_customers,
        ),
    }
    result["agree"] = all(
        (result["segment"]["count"]["agree"], result["rfm"]["agree"], result["pareto"]["agree"])
    )
    result["incremental"] = incremental(brand, batch_size)
    result["data_after"] = {"orders": Order.objects.filter(brand=brand).count()}
    return result


def services_compute(brand: Any, now: dt.datetime) -> Any:
    from omo.segments.scores import compute_scores

    return compute_scores(brand, now=now)


def _print(result: dict[str, Any]) -> None:
    data, m = result["data"], result["machine"]
    print(
        f"segments on {result['database']}: {data['customers']:,} customers, {data['orders']:,} orders, "
        f"{data['events']:,} events (added {result['added']}); tag {result['tag']!r}"
    )
    print(f"  machine: {m['cpus']} × {m['cpu']}, {m['memory']}, load {m['load']:.1f}")
    ex = result["export"]
    print(f"  export {ex['seconds']} s {ex['rows']}, DuckDB load {ex['duckdb_load_seconds']} s")
    rows = [
        ("(a) members().count()", result["segment"]["count"]),
        ("(a) materialised refresh", result["segment"]["refresh"]),
        ("(b) compute_scores", result["rfm"]),
        ("(c) Pareto 12 months", result["pareto"]),
    ]
    for name, figures in rows:
        print(
            f"  {name:26} omo {figures['omo_seconds']:8.3f} s  DuckDB {figures['duckdb_seconds']:8.3f} s  "
            f"× {figures['ratio']:6.2f}  {'within' if figures['within_3x'] else 'OVER'} 3×  "
            f"{'agree' if figures['agree'] else 'DISAGREE'}"
        )
    seg = result["segment"]
    print(
        f"  members {seg['members']:,} (materialised {seg['materialised']:,}, DuckDB {seg['duckdb_members']:,}); "
        f"each condition alone: omo {seg['conditions']}, DuckDB {seg['duckdb_conditions']}"
    )
    print(f"  RFM omo {result['rfm']['omo']}\n      DuckDB {result['rfm']['duckdb']}")
    print(f"  Pareto {result['pareto']['customers']:,} customers, shares {result['pareto']['shares']}")
    inc = result["incremental"]
    print(
        f"  (d) batch of {inc['orders']} orders: record_orders {inc['record_orders_seconds']} s; incremental "
        f"{inc['incremental_seconds']} s (rescore {inc['rescore_seconds']} s, mark {inc['mark_stale_seconds']} s, "
        f"refresh {inc['stale_segments']} stale segments {inc['refresh_stale_seconds']} s) "
        f"{'within' if inc['within_1s'] else 'OVER'} the 1 s goal"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", help="seed the demo brand at this size first (tiny, small, medium, large)")
    parser.add_argument(
        "--customers",
        type=int,
        help="seed this many customers first (with --size: that size's mix; default medium)",
    )
    parser.add_argument("--today", help="with --size: the seed's last day (YYYY-MM-DD; default today)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query (the median is reported)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    seeded = None
    size = args.size or ("medium" if args.customers else None)  # --customers alone: medium's mix
    if size:
        import subprocess

        from bench import seed_large
        from bench._util import ROOT, child_env

        subprocess.run(
            [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=child_env(),
            check=True,
        )
        seeded = seed_large.run(size, today=args.today, customers=args.customers)
    setup_django()
    try:
        result = run(repeat=args.repeat, batch_size=args.batch_size)
    except RuntimeError as exc:
        print(f"segments benchmark not run: {exc}", file=sys.stderr)
        return 3
    if seeded is not None:
        result["seed"] = {"size": seeded["size"], "wall_seconds": seeded["wall_seconds"]}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        _print(result)
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
