"""What the connectors app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.connectors import personal_data, tasks
from omo.core import schedule


def register() -> None:
    # Finds the Shopify connections whose own interval (hours) has passed; this is only how often it looks.
    schedule.register(
        "connectors.sync_due_products", tasks.sync_due_shopify_products, dt.timedelta(minutes=10)
    )

    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()
