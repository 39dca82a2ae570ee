from django.apps import AppConfig


class BindingConfig(AppConfig):
    name = "omo.binding"
    label = "binding"

    def ready(self) -> None:
        from omo.binding import subscribers

        subscribers.register()
