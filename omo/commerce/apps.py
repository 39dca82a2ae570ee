from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "omo.commerce"
    label = "commerce"

    def ready(self) -> None:
        # Loyalty tiers read the spend of the rolling window from the orders (omo/loyalty/spend.py).
        from omo.commerce import subscribers

        subscribers.register()
