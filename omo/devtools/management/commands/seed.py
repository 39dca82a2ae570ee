"""`omo seed --demo`: load the 森日 Morning Forest demo brand (see omo/devtools/seed.py)."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from omo.devtools.demo_info import demo_logins
from omo.devtools.seed import SIZES, SeedError, seed_demo


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--today must be a date like 2026-05-01, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Load demo data: a Taiwanese lifestyle brand with stores, staff, catalogue, customers, "
        "12 months of orders and a loyalty ledger. Deterministic for a given --seed and --today."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--demo", action="store_true", help="load the demo brand (slug 'demo')")
        parser.add_argument(
            "--size",
            choices=list(SIZES),
            default="small",
            help="tiny (tests), small (default, ~5k customers / ~30k orders), "
            "medium (~50k / ~300k), large (~1M / ~10M)",
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--today",
            type=_date,
            default=None,
            help="the day the data ends (YYYY-MM-DD, default today): same seed and day, same data",
        )
        parser.add_argument("--reset", action="store_true", help="delete an existing demo brand first")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes that generate and write customers on PostgreSQL (default: one per core; "
            "the data is the same for any number)",
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=None,
            help="scale the size to this many customers, orders in proportion (for measuring)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["demo"]:
            raise CommandError("say what to seed: `omo seed --demo` loads the demo brand")
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if unapplied:
            raise CommandError(
                f"the database is not ready: {len(unapplied)} migrations are not applied; run `omo migrate` first"
            )
        try:
            report = seed_demo(
                size=options["size"],
                seed=options["seed"],
                today=options["today"],
                reset=options["reset"],
                progress=not options["no_progress"],
                log=self.stderr.write,
                workers=options["workers"],
                customers=options["customers"],
            )
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        counts = report.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded 森日 Morning Forest ({report.size}, seed {report.seed}, up to {report.today}) "
                f"in {report.seconds:.1f} s:"
            )
        )
        self.stdout.write(
            f"  {counts['stores']} stores, {counts['staff']} staff, {counts['products']} products "
            f"({counts['variants']} variants), {counts['customers']:,} customers, {counts['orders']:,} orders "
            f"({counts['order_lines']:,} lines, {counts['refunds']:,} refunds), "
            f"{counts['points_entries']:,} points entries"
        )
        self.stdout.write(
            f"  {counts.get('bindings', 0):,} customers bound to clerks, {counts.get('clicks', 0):,} product-card "
            f"clicks, {counts.get('attributed_orders', 0):,} orders attributed, {counts.get('shifts', 0):,} "
            f"roster shifts, {counts.get('conversations', 0)} open conversations"
        )
        if report.story_customer:
            self.stdout.write(f"  phone simulator: play {report.story_customer} (bound to the demo clerk)")
        for login in demo_logins():
            self.stdout.write(f"  {login['role']}: {login['username']} / {login['password']}  {login['url']}")
        # One machine-readable line for bench/seed_large.py.
        self.stdout.write(
            "SEED-SUMMARY "
            + json.dumps(
                {
                    "size": report.size,
                    "seed": report.seed,
                    "today": report.today,
                    "seconds": report.seconds,
                    "workers": report.workers,
                    **counts,
                }
            )
        )
