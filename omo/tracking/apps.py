from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "omo.tracking"
    label = "tracking"

    def ready(self) -> None:
        from omo.tracking import subscribers

        subscribers.register()
