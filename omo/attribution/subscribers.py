"""What the attribution app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.attribution import personal_data, services, sweep
from omo.attribution.services import recipients
from omo.core import events


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Every order from every sales channel gets a decision; every refund and cancellation its
    # reversing entries. Durable: a decision lost in a crash is made by the worker's retry.
    events.subscribe(
        "order.recorded",
        services.on_order_recorded,
        durable="attribution.order_recorded",
        when=events.not_in_batch,
    )
    # An order through a card that landed on someone other than the card's recipient: HQ decides.
    events.subscribe(
        "order.recorded",
        recipients.on_order_recorded,
        durable="attribution.card_recipient",
        when=events.not_in_batch,
    )
    events.subscribe(
        "orders.batch_recorded",
        services.on_orders_batch_recorded,
        durable="attribution.orders_batch_recorded",
    )
    events.subscribe("order.refunded", services.on_order_refunded, durable="attribution.order_refunded")
    events.subscribe("order.cancelled", services.on_order_cancelled, durable="attribution.order_cancelled")
    sweep.register()
