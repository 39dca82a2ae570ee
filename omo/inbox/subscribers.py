"""What the inbox app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from omo.core import schedule
from omo.customers.selectors import register_connection
from omo.inbox import binding_flows, consent_words, order_notices, personal_data, realtime, tasks
from omo.inbox.selectors import customer_connection


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Opt-out / opt-in words in chat (omo/inbox/consent_words.py).
    consent_words.register_handlers()

    # Push inbox changes to staff sockets after commit (omo/inbox/realtime.py).
    realtime.register()

    schedule.register("inbox.escalate_and_return", tasks.escalate_and_return, dt.timedelta(minutes=1))
    schedule.register("inbox.sweep_stuck_messages", tasks.sweep_stuck_messages, dt.timedelta(minutes=1))

    # Order confirmations and shipping notices in the customer's LINE chat (omo/inbox/order_notices.py).
    order_notices.register()

    # Binding's chat verbs, the "#<code>" message and the recovery postbacks.
    binding_flows.register()

    # A store or a clerk sees the customers of the conversations they see (omo/customers/selectors.py).
    register_connection("inbox.conversations", customer_connection)
