from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "omo.attribution"
    label = "attribution"

    def ready(self) -> None:
        from omo.attribution import subscribers

        subscribers.register()
