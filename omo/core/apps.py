from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "omo.core"
    label = "core"

    def ready(self) -> None:
        from omo.core import subscribers

        subscribers.register()
