"""What the binding app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.binding import personal_data
from omo.binding.selectors import customer_connection
from omo.customers.selectors import register_connection


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # A clerk sees the customers bound to them (omo/customers/selectors.py).
    register_connection("binding.bound", customer_connection)
