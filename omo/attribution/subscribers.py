"""What the attribution app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from omo.attribution import links, personal_data, services, sweep
from omo.attribution.models import Attribution
from omo.attribution.services import recipients
from omo.commerce.selectors import register_order_connection
from omo.core import events
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.inbox import cards


def _card_link(brand: Any, **fields: Any) -> cards.IssuedLink:
    link = services.issue_link(brand, **fields)
    return cards.IssuedLink(
        url=services.link_url(link), link_id=link.pk, token=links.link_token(link.pk, link.brand_id)
    )


def _credited_orders(actor: Actor) -> Q | None:
    """A clerk sees the orders credited to them (the clerk app's sales page)."""
    if actor.scope != Scope.OWN or not actor.user_id:
        return None
    credited = Attribution.objects.filter(brand_id=actor.brand.pk, clerk_id=actor.user_id)
    return Q(pk__in=credited.values("order_id"))


def register() -> None:
    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Every product card's button is a tracked link naming clerk, customer and conversation
    # (omo/inbox/cards.py: the clerk app's cards and the conversations API's).
    cards.register_link_issuer(_card_link)

    # A clerk's orders include those credited to them (omo/commerce/selectors.py visible_orders).
    register_order_connection("attribution.credited", _credited_orders)

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
