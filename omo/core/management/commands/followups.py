"""`omo followups sweep [--brand SLUG] [--dry-run] [--since DATE]`: find and repair follow-up work
missing for rows written before the durable subscribers existed (omo.core.followups)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.core import followups
from omo.core.models import Brand, FollowUp


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise CommandError(
            f"--since 需為日期 YYYY-MM-DD (--since must be a date YYYY-MM-DD): {raw!r}"
        ) from exc


class Command(BaseCommand):
    help = "Find and repair follow-up work (attribution, timeline, webhooks, rollup) missing for saved rows."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        sweep = actions.add_parser("sweep", help="count the gaps per kind and repair them")
        sweep.add_argument("--brand", help="only this brand (slug); default every brand")
        sweep.add_argument("--dry-run", action="store_true", help="count only, repair nothing")
        sweep.add_argument(
            "--since", help="only rows written on or after this day (YYYY-MM-DD, brand's time zone)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since_day = _day(options["since"]) if options.get("since") else None
        brands = Brand.objects.order_by("slug")
        if options.get("brand"):
            brands = brands.filter(slug=options["brand"])
            if not brands.exists():
                raise CommandError(
                    f"找不到品牌 {options['brand']!r} (no brand with slug {options['brand']!r})"
                )
        repair = not options["dry_run"]
        for brand in brands:
            since = (
                dt.datetime.combine(since_day, dt.time.min, tzinfo=ZoneInfo(brand.time_zone))
                if since_day is not None
                else None
            )
            found = followups.sweep(brand, since=since, repair=repair)
            owed = FollowUp.objects.filter(brand=brand).count()
            self.stdout.write(f"{brand.slug}:")
            labels = {gap.kind: gap.label for gap in followups.checks()}
            for kind, count in found.items():
                verb = "found" if not repair else "repaired"
                self.stdout.write(f"  {kind:<24} {count:>8} {verb}  ({labels[kind]})")
            self.stdout.write(f"  {'followups.owed':<24} {owed:>8} waiting for the worker's retry")
