from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "omo.analytics"
    label = "analytics"

    def ready(self) -> None:
        from omo.analytics import subscribers

        subscribers.register()
