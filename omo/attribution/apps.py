from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "omo.attribution"
    label = "attribution"

    def ready(self) -> None:
        # What the app holds about a person: export, erasure, merge, split, retention
        # (omo/customers/personal_data.py).
        from omo.attribution import personal_data

        personal_data.register()
        # Every order from every sales channel gets a decision; every refund and cancellation its
        # reversing entries. Durable: a decision lost in a crash is made by the worker's retry.
        from omo.attribution import services, sweep
        from omo.core import events

        events.subscribe(
            "order.recorded",
            services.on_order_recorded,
            durable="attribution.order_recorded",
            when=events.not_in_batch,
        )
        events.subscribe(
            "orders.batch_recorded",
            services.on_orders_batch_recorded,
            durable="attribution.orders_batch_recorded",
        )
        events.subscribe("order.refunded", services.on_order_refunded, durable="attribution.order_refunded")
        events.subscribe(
            "order.cancelled", services.on_order_cancelled, durable="attribution.order_cancelled"
        )
        sweep.register()
