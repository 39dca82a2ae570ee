import datetime as dt

from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "omo.connectors"
    verbose_name = "Connectors (Shopify)"

    def ready(self) -> None:
        from omo.connectors import tasks
        from omo.core import schedule

        # Finds the Shopify connections whose own interval (hours) has passed; this is only how often it looks.
        schedule.register(
            "connectors.sync_due_products", tasks.sync_due_shopify_products, dt.timedelta(minutes=10)
        )

        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.connectors import personal_data

        personal_data.register()
