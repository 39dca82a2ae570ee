"""Reads about orders that several apps share, and who sees which orders.

`visible_orders(actor)` is the one rule for the API, the console, the clerk app and exports: all of
the brand's orders (HQ), one store's (a store manager), or the sales the clerk made (a clerk, or
the clerk's API key). A narrowed actor without its store or clerk sees none.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum

from omo.commerce.models import Order
from omo.core.access import Scope
from omo.core.audit import Actor

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


def visible_orders(actor: Actor) -> QuerySet[Order]:
    orders = Order.objects.filter(brand=actor.brand)
    if actor.scope == Scope.BRAND:
        return orders
    if actor.scope == Scope.STORE:
        return orders.filter(store_id=actor.store_id) if actor.store_id else orders.none()
    if actor.scope == Scope.OWN:
        return orders.filter(staff_id=actor.user_id) if actor.user_id else orders.none()
    return orders.none()


def customer_connection(actor: Actor) -> Q | None:
    """A customer is a store's when they bought there, and a clerk's when the clerk sold to them
    (registered with omo.customers.selectors)."""
    if actor.scope == Scope.STORE and actor.store_id:
        return Q(Exists(Order.objects.filter(customer=OuterRef("pk"), store_id=actor.store_id)))
    if actor.scope == Scope.OWN and actor.user_id:
        return Q(Exists(Order.objects.filter(customer=OuterRef("pk"), staff_id=actor.user_id)))
    return None
