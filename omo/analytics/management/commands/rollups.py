"""`omo rollups rebuild [--brand SLUG]`: recompute the dashboard's sales rollup from the orders."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.analytics import rollups
from omo.core.models import Brand


class Command(BaseCommand):
    help = "Rebuild the sales rollup that the console dashboard reads."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        rebuild = actions.add_parser("rebuild", help="recompute every brand's rollup (or one brand's)")
        rebuild.add_argument("--brand", default=None, help="only this brand (its slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        brands = Brand.objects.order_by("pk")
        if options["brand"]:
            brands = brands.filter(slug=options["brand"])
            if not brands.exists():
                raise CommandError(f"no brand with slug {options['brand']!r}")
        for brand in brands:
            result = rollups.rebuild(brand)
            self.stdout.write(
                json.dumps(
                    {
                        "brand": brand.slug,
                        "sales_rows": result.sales_rows,
                        "product_rows": result.product_rows,
                        "customer_rows": result.customer_rows,
                        "seconds": round(result.seconds, 2),
                    }
                )
            )
