from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "omo.commerce"
    label = "commerce"

    def ready(self) -> None:
        from omo.commerce import subscribers

        subscribers.register()
