from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "omo.inbox"
    label = "inbox"

    def ready(self) -> None:
        # Push inbox changes to staff sockets after commit (omo/inbox/realtime.py).
        from omo.inbox import realtime

        realtime.register()

        # A store or a clerk sees the customers of the conversations they see (omo/customers/selectors.py).
        from omo.customers.selectors import register_connection
        from omo.inbox.selectors import customer_connection

        register_connection("inbox.conversations", customer_connection)
