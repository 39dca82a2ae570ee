from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "omo.inbox"
    label = "inbox"

    def ready(self) -> None:
        from omo.inbox import subscribers

        subscribers.register()
