from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "omo.attribution"
    label = "attribution"

    def ready(self) -> None:
        # Every order from every sales channel gets a decision; every refund and cancellation its
        # reversing entries.
        from omo.attribution import services
        from omo.core import events

        events.subscribe("order.recorded", services.on_order_recorded)
        events.subscribe("orders.batch_recorded", services.on_orders_batch_recorded)
        events.subscribe("order.refunded", services.on_order_refunded)
        events.subscribe("order.cancelled", services.on_order_cancelled)
