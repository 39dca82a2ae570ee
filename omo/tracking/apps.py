from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "omo.tracking"
    label = "tracking"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.tracking import personal_data

        personal_data.register()
        # Orders, chat, clicks, bindings, points and coupons land on the customer's timeline.
        from omo.tracking import server_events

        server_events.subscribe_all()
