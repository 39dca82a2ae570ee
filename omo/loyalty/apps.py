from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "omo.loyalty"
    label = "loyalty"

    def ready(self) -> None:
        from omo.loyalty import subscribers

        subscribers.register()
