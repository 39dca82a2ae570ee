"""Reads about orders that several apps share, and who sees which orders.

`visible_orders(actor)` is the one rule for the API, the console, the clerk app and exports: all of
the brand's orders (HQ), one store's (a store manager), or for a clerk (signed in or through the
clerk's API key) what the clerk app shows them: the sales the clerk made, the orders credited to
the clerk (attribution registers that connection, `register_order_connection`) and the order
history of the clerk's bound customers (the customer panel). A sale or credited order of someone
else's customer is the clerk's without its customer: `customer_hidden` (annotated by
`with_customer_visibility`) tells the API to leave the buyer out. A narrowed actor without its
store or clerk sees none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When

from omo.commerce.models import Order, OrderAction
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.customers.selectors import visible_customers

# Orders that count as a sale (spend, tiers, dashboards): paid or beyond, not cancelled.
SALE_STATUSES = (
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.PARTIALLY_REFUNDED,
    Order.Status.REFUNDED,
)


def net_spend_since(customer, since: dt.datetime) -> int:
    value = Order.objects.filter(customer=customer, placed_at__gte=since, status__in=SALE_STATUSES).aggregate(
        s=Sum(F("total") - F("refunded_total"))
    )["s"]
    return int(value or 0)


def customer_orders(customer):
    return (
        Order.objects.filter(brand_id=customer.brand_id, customer=customer)
        .select_related("store")
        .order_by("-placed_at", "-id")
    )


# actor -> the Q an order matches when an app above connects it to a clerk actor, or None.
OrderConnection = Callable[[Actor], Q | None]

_order_connections: dict[str, OrderConnection] = {}


def register_order_connection(name: str, connection: OrderConnection) -> None:
    """Registered once per app (attribution: orders credited to the clerk); the same name replaces."""
    _order_connections[name] = connection


def visible_orders(actor: Actor) -> QuerySet[Order]:
    orders = Order.objects.filter(brand=actor.brand)
    if actor.scope == Scope.BRAND:
        return orders
    if actor.scope == Scope.STORE:
        return orders.filter(store_id=actor.store_id) if actor.store_id else orders.none()
    if actor.scope == Scope.OWN:
        if not actor.user_id:
            return orders.none()
        allowed = Q(staff_id=actor.user_id) | Q(customer__in=visible_customers(actor).values("pk"))
        for connection in _order_connections.values():
            condition = connection(actor)
            if condition is not None:
                allowed |= condition
        return orders.filter(allowed)
    return orders.none()


def with_customer_visibility(orders: QuerySet[Order], actor: Actor) -> QuerySet[Order]:
    """Annotate `customer_hidden`: the order names a customer this actor may not see (a clerk's
    own sale or credited order of a customer bound to someone else). Only a clerk has such orders:
    HQ sees every customer and a store every customer who bought there."""
    if actor.scope != Scope.OWN:
        return orders.annotate(customer_hidden=Value(False, output_field=BooleanField()))
    seen = visible_customers(actor).values("pk")
    return orders.annotate(
        customer_hidden=Case(
            When(customer__isnull=True, then=Value(False)),
            When(customer__in=seen, then=Value(False)),
            default=Value(True),
            output_field=BooleanField(),
        )
    )


# What a person or an integrator may do to an order next: the order's state machine.
# placed → paid → fulfilled; cancel before fulfilment; refund once paid, up to what is left.
PAY = "pay"
FULFIL = "fulfil"
CANCEL = "cancel"
REFUND = "refund"
ORDER_ACTIONS = (PAY, FULFIL, CANCEL, REFUND)


def allowed_actions(order: Order) -> frozenset[str]:
    """The actions the order's state allows (who may take them is the role's business)."""
    status = order.status
    actions: set[str] = set()
    if status == Order.Status.PLACED:
        actions = {PAY, FULFIL, CANCEL}
    elif status == Order.Status.PAID:
        actions = {FULFIL, CANCEL, REFUND}
    elif status == Order.Status.FULFILLED:
        actions = {REFUND}
    elif status == Order.Status.PARTIALLY_REFUNDED:
        actions = {REFUND} if order.fulfilled_at is not None else {FULFIL, REFUND}
    if order.total - order.refunded_total <= 0:
        actions.discard(REFUND)
    return frozenset(actions)


def refundable_amount(order: Order) -> int:
    """What may still be refunded: what was paid minus what was refunded (0 before payment)."""
    if REFUND not in allowed_actions(order):
        return 0
    return order.total - order.refunded_total


def order_history(order: Order) -> QuerySet[OrderAction]:
    """The steps taken on an order after it was recorded, oldest first."""
    return order.actions.select_related("actor_user").order_by("created_at", "id")


def customer_connection(actor: Actor) -> Q | None:
    """A customer is a store's when they bought there (registered with omo.customers.selectors).
    A sale does not make the customer a clerk's: a clerk's customers are the bound ones."""
    if actor.scope == Scope.STORE and actor.store_id:
        return Q(Exists(Order.objects.filter(customer=OuterRef("pk"), store_id=actor.store_id)))
    return None
