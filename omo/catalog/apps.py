from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "omo.catalog"
    label = "catalog"

    def ready(self) -> None:
        from omo.catalog.importers import ProductsImporter, StockImporter
        from omo.core import imports

        imports.register_importer("products", ProductsImporter)
        imports.register_importer("stock", StockImporter)
