"""`omo resolve_identities --brand SLUG_OR_ID [--enqueue]`: identity resolution over a brand's history."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from omo.core.models import Brand
from omo.customers import tasks


class Command(BaseCommand):
    help = "Link every identifier the brand has recorded to its customer and merge duplicates (docs/identity.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--brand", required=True, help="the brand's id or slug")
        parser.add_argument("--chunk", type=int, default=tasks.CHUNK, help="rows per batch (default 5000)")
        parser.add_argument("--enqueue", action="store_true", help="run it in a background worker instead")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = str(options["brand"]).strip()
        brand = (
            Brand.objects.filter(pk=int(raw)).first()
            if raw.isdigit()
            else Brand.objects.filter(slug=raw).first()
        )
        if brand is None:
            raise CommandError(f"--brand: no brand with id or slug {raw!r}")
        if options["chunk"] < 1:
            raise CommandError("--chunk: must be at least 1")
        if options["enqueue"]:
            result = tasks.resolve_identities.enqueue(brand.pk)
            self.stdout.write(f"enqueued {result.id}")
            return
        report = tasks.resolve_history(brand, chunk=options["chunk"])
        self.stdout.write(json.dumps(asdict(report)))
