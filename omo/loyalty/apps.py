from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "omo.loyalty"
    label = "loyalty"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.loyalty import personal_data

        personal_data.register()
