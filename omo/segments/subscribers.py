"""What the segments app registers at start-up: its periodic jobs and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.core import schedule
from omo.customers import registry as customer_registry
from omo.segments.clv import selectors as clv_selectors
from omo.segments.clv import tasks as clv_tasks


def register() -> None:
    # Predicted customer value: every brand refitted at night (omo/segments/clv/).
    schedule.register(
        "segments.clv_refit", clv_tasks.refit_all_brands, dt.timedelta(days=1), at=dt.time(3, 15)
    )
    # The customer API's `predictions` and `rfm`.
    customer_registry.register_customer_insights(clv_selectors.Insights())
