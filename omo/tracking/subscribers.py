"""What the tracking app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.tracking import personal_data, server_events


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Orders, chat, clicks, bindings, points and coupons land on the customer's timeline.
    server_events.subscribe_all()
