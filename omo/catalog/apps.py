from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "omo.catalog"
    label = "catalog"

    def ready(self) -> None:
        from omo.catalog import subscribers

        subscribers.register()
