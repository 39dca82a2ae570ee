"""`omo brand create NAME` and `omo brand list`."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.core.brands import create_brand
from omo.core.models import Brand


class Command(BaseCommand):
    help = "Create or list brands (tenants)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        create = actions.add_parser(
            "create",
            help="create a brand; prints JSON with its id, slug and an admin API key (shown once)",
        )
        create.add_argument("name", help="the brand's name, e.g. 草本生活")
        create.add_argument("--slug", default=None, help="URL name (default: made from the name)")
        actions.add_parser("list", help="print every brand as one JSON object per line")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            try:
                created = create_brand(options["name"], slug=options["slug"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                json.dumps(
                    {"brand_id": created.brand.pk, "slug": created.brand.slug, "api_key": created.api_key},
                    ensure_ascii=False,
                )
            )
        else:
            for brand in Brand.objects.order_by("pk"):
                self.stdout.write(
                    json.dumps(
                        {"brand_id": brand.pk, "slug": brand.slug, "name": brand.name}, ensure_ascii=False
                    )
                )
