"""What the integrations app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.core import events, schedule
from omo.outgoing_webhooks import personal_data, services, sweep, tasks
from omo.outgoing_webhooks.topics import TOPICS


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Each topic follows the domain event of the same name (after its transaction commits).
    # Durable, but only for brands with an endpoint that takes the topic: no row is owed for
    # an event nobody subscribed to (most events of most brands).
    for topic in TOPICS:
        events.subscribe(
            topic,
            services.handler_for(topic),
            durable=f"integrations.{topic}",
            when=services.wanted_for(topic),
        )
    sweep.register()

    schedule.register("integrations.sweep_webhooks", tasks.sweep_webhook_deliveries, dt.timedelta(minutes=1))
