from django.apps import AppConfig


class BindingConfig(AppConfig):
    name = "omo.binding"
    label = "binding"

    def ready(self) -> None:
        # The prefilled "#<code>" message flow and the recovery confirm/decline postbacks.
        from omo.binding.services import register_handlers

        register_handlers()
