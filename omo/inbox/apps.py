import datetime as dt

from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "omo.inbox"
    label = "inbox"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.inbox import personal_data

        personal_data.register()
        # Opt-out / opt-in words in chat (omo/inbox/consent_words.py).
        from omo.inbox import consent_words

        consent_words.register_handlers()
        # Push inbox changes to staff sockets after commit (omo/inbox/realtime.py).
        from omo.inbox import binding_flows, realtime

        realtime.register()

        from omo.core import schedule
        from omo.inbox import tasks

        schedule.register("inbox.escalate_and_return", tasks.escalate_and_return, dt.timedelta(minutes=1))
        schedule.register("inbox.sweep_stuck_messages", tasks.sweep_stuck_messages, dt.timedelta(minutes=1))

        # Binding's chat verbs, the "#<code>" message and the recovery postbacks.
        binding_flows.register()

        # A store or a clerk sees the customers of the conversations they see (omo/customers/selectors.py).
        from omo.customers.selectors import register_connection
        from omo.inbox.selectors import customer_connection

        register_connection("inbox.conversations", customer_connection)
