from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "omo.segments"
    label = "segments"

    def ready(self) -> None:
        from omo.segments import subscribers

        subscribers.register()
