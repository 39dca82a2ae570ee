from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "omo.catalog"
    label = "catalog"
