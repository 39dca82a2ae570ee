"""Who sees which customers: one rule for the API, the console, the clerk app and exports.

- brand-wide roles (HQ): every customer of the brand;
- a store's staff (store manager): customers whose home store is theirs, plus those the apps above
  connect to the store (bought there, bound to its staff, a conversation the store handles);
- a clerk (own scope, signed in or through the clerk's API key): the customers bound to them now,
  as the clerk app's customer list shows them. A sale, a credited order or a conversation handed
  to the clerk shows that sale or those messages, not the customer's record
  (docs/adr-access-actor.md).

Customers sit below commerce, binding and inbox and import none of them: each of those apps
registers how it connects a customer to an actor (`register_connection`, in its AppConfig.ready()).
A narrowed actor without a store or clerk sees nobody.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.customers.models import Customer, MergeSuggestion

# actor -> the Q a customer matches when this app connects them to the actor, or None (no link).
Connection = Callable[[Actor], Q | None]

_connections: dict[str, Connection] = {}


def register_connection(name: str, connection: Connection) -> None:
    """Registered once per app; registering the same name again replaces it (reloads in tests)."""
    _connections[name] = connection


def visible_customers(actor: Actor) -> QuerySet[Customer]:
    customers = Customer.objects.filter(brand=actor.brand)
    if actor.scope == Scope.BRAND:
        return customers
    if actor.scope == Scope.STORE:
        if not actor.store_id:
            return customers.none()
        allowed = Q(home_store_id=actor.store_id)
    elif actor.scope == Scope.OWN:
        if not actor.user_id:
            return customers.none()
        allowed = Q(pk__in=[])
    else:
        return customers.none()
    for connection in _connections.values():
        condition = connection(actor)
        if condition is not None:
            allowed |= condition
    return customers.filter(allowed)


def till_customers(actor: Actor) -> QuerySet[Customer]:
    """Who a store's till may redeem coupons and points for: every member of the brand (members
    shop in every store) when the actor holds `pos.sell`, otherwise whom it may see."""
    if actor.can("pos.sell"):
        return Customer.objects.filter(brand=actor.brand)
    return visible_customers(actor)


def may_see_customer(actor: Actor, customer: Customer) -> bool:
    return customer.brand_id == actor.brand.pk and visible_customers(actor).filter(pk=customer.pk).exists()


def open_merge_suggestions(brand_id: int) -> QuerySet[MergeSuggestion]:
    """HQ's queue: the brand's open merge suggestions with both customers, newest first."""
    return (
        MergeSuggestion.objects.filter(brand_id=brand_id, status=MergeSuggestion.Status.OPEN)
        .select_related("customer_a", "customer_b")
        .order_by("-created_at", "-id")
    )
