from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "omo.tracking"
    label = "tracking"

    def ready(self) -> None:
        # Orders, chat, clicks, bindings, points and coupons land on the customer's timeline.
        from omo.tracking import server_events

        server_events.subscribe_all()
