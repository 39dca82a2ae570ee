import datetime as dt

from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "omo.loyalty"
    label = "loyalty"

    def ready(self) -> None:
        from omo.core import schedule
        from omo.loyalty import tasks

        schedule.register("loyalty.nightly", tasks.nightly_loyalty_all_brands, dt.timedelta(hours=24))
