"""What the catalog app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.catalog.importers import ProductsImporter, StockImporter
from omo.core import imports


def register() -> None:
    imports.register_importer("products", ProductsImporter)
    imports.register_importer("stock", StockImporter)
