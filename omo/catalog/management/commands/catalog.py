"""`omo catalog line-images --brand SLUG [--retry-problems] [--background]`: make missing LINE copies."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.catalog import line_copies, tasks
from omo.core.models import Brand


class Command(BaseCommand):
    help = "Catalogue upkeep: make the LINE copies of product images that lack one (docs/catalog.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        images = actions.add_parser(
            "line-images",
            help="make the LINE copies (JPEG/PNG within LINE's limits) of the brand's images that have none; "
            "prints one line per image and a summary",
        )
        images.add_argument("--brand", required=True, help="the brand's slug (see `omo brand list`)")
        images.add_argument(
            "--retry-problems",
            action="store_true",
            help="look again at images that could not be copied before",
        )
        images.add_argument(
            "--background",
            action="store_true",
            help="leave the work to `omo worker` instead of doing it here",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"no brand with slug {options['brand']!r}")
        if options["background"]:
            tasks.make_line_copies.enqueue(brand.pk, options["retry_problems"])
            self.stdout.write(f"queued: {line_copies.progress(brand)['waiting']} images waiting")
            return

        def report(outcome: line_copies.Outcome, done: int, total: int) -> None:
            words = outcome.sentence or line_copies.outcome_words(outcome.code)
            self.stdout.write(f"[{done}/{total}] image {outcome.image_id}: {outcome.code} {words}".rstrip())

        counts = line_copies.make_missing(brand, retry_problems=options["retry_problems"], on_image=report)
        summary = ", ".join(f"{code} {count}" for code, count in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"done: {summary}")
