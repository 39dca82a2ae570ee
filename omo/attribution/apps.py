from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "omo.attribution"
    label = "attribution"
