"""What the loyalty app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.core import brands, schedule
from omo.loyalty import personal_data, services, tasks


def register() -> None:
    schedule.register(
        "loyalty.nightly", tasks.nightly_loyalty_all_brands, dt.timedelta(days=1), at=dt.time(3, 0)
    )

    # A new brand starts with the default programme (earn rate, expiry, no tiers).
    brands.register_setup("loyalty.program", services.program_for)

    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()
