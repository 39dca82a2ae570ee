"""omo reindex_customers [--brand ID]: rebuild the customer search text (name, phone, email,
member number, chat display names), e.g. after an import that wrote customers directly."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from omo.core.models import Brand
from omo.customers import search


class Command(BaseCommand):
    help = "Rebuild Customer.search_text for every customer (or one brand's)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--brand", type=int, help="only this brand id")

    def handle(self, *args, **options) -> None:
        brand_id = options.get("brand")
        if brand_id is not None and not Brand.objects.filter(pk=brand_id).exists():
            raise CommandError(f"--brand: no brand with id {brand_id}")
        started = time.perf_counter()
        rows = search.backfill(brand_id)
        self.stdout.write(
            f"search text rebuilt for {rows:,} customers in {time.perf_counter() - started:.1f} s"
        )
