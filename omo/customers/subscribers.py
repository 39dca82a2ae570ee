"""What the customers app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.core import imports, schedule
from omo.customers import retention, search
from omo.customers.importers import CustomersImporter


def register() -> None:
    # Search text follows merges, splits and erasure (omo/customers/search.py).
    search.subscribe()

    schedule.register(
        "customers.purge_expired", retention.purge_expired, dt.timedelta(days=1), at=dt.time(3, 30)
    )
    imports.register_importer("customers", CustomersImporter)
