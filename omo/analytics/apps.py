from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "omo.analytics"
    label = "analytics"
