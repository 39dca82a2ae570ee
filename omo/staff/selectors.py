"""Who sees which stores and staff: one rule for the API, the console and the clerk app."""

from __future__ import annotations

from django.db.models import QuerySet

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.staff.models import Store, User


def store_directory(actor: Actor) -> QuerySet[Store]:
    """Every store of the actor's brand: names, codes and addresses are shared inside a brand (a
    clerk quotes another store's opening hours; an integration maps store codes)."""
    return Store.objects.filter(brand=actor.brand)


def visible_stores(actor: Actor) -> QuerySet[Store]:
    """The stores whose orders, customers and team the actor works with: all (HQ) or its own."""
    stores = store_directory(actor)
    if actor.scope == Scope.BRAND:
        return stores
    if actor.scope in (Scope.STORE, Scope.OWN) and actor.store_id:
        return stores.filter(pk=actor.store_id)
    return stores.none()


def visible_staff(actor: Actor) -> QuerySet[User]:
    """The brand's staff: all (HQ), a store manager's own team, or a clerk only themselves."""
    staff = User.objects.filter(brand=actor.brand)
    if actor.scope == Scope.STORE:
        return staff.filter(store_id=actor.store_id) if actor.store_id else staff.none()
    if actor.scope == Scope.OWN:
        return staff.filter(pk=actor.user_id) if actor.user_id else staff.none()
    return staff if actor.scope == Scope.BRAND else staff.none()
