from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "omo.inbox"
    label = "inbox"

    def ready(self) -> None:
        # Push inbox changes to staff sockets after commit (omo/inbox/realtime.py).
        from omo.inbox import binding_flows, realtime

        realtime.register()
        # Binding's chat verbs, the "#<code>" message and the recovery postbacks.
        binding_flows.register()
