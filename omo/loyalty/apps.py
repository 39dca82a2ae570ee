import datetime as dt

from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "omo.loyalty"
    label = "loyalty"

    def ready(self) -> None:
        from omo.core import schedule
        from omo.loyalty import tasks

        schedule.register("loyalty.nightly", tasks.nightly_loyalty_all_brands, dt.timedelta(hours=24))

        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.loyalty import personal_data

        personal_data.register()
