"""`omo shopify_sync_products` — read a Shopify store's products into the catalogue now."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import products


class Command(BaseCommand):
    help = "Sync products from Shopify (GraphQL Admin API) into the catalogue: one connection, or all of a brand."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", type=int, help="ShopifyConnection id")
        parser.add_argument("--brand", help="brand slug: every active connection of the brand")

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["connection"]) == bool(options["brand"]):
            raise CommandError("give exactly one of --connection ID or --brand SLUG")
        connections = ShopifyConnection.objects.select_related("brand").filter(is_active=True)
        if options["connection"]:
            connections = connections.filter(pk=options["connection"])
        else:
            connections = connections.filter(brand__slug=options["brand"])
        found = list(connections)
        if not found:
            raise CommandError("no active Shopify connection matches")
        failed = False
        for connection in found:
            counts = products.sync_products(connection)
            self.stdout.write(json.dumps({"connection": connection.pk, **counts}, ensure_ascii=False))
            failed = failed or bool(counts.get("error") or counts.get("skipped"))
        if failed:
            raise CommandError("at least one sync failed or was skipped (see the error above)")
