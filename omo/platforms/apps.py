from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "omo.platforms"
    label = "platforms"

    def ready(self) -> None:
        # The inbox delivers outgoing messages through the inbox's adapter (omo/inbox/delivery.py).
        from omo.inbox import delivery
        from omo.platforms import get_adapter

        delivery.register_senders(get_adapter)

        # What must happen before a person's chat data is erased (omo/platforms/personal_data.py).
        from omo.platforms import personal_data

        personal_data.register()
