from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "omo.platforms"
    label = "platforms"

    def ready(self) -> None:
        from omo.platforms import subscribers

        subscribers.register()
