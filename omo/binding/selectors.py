"""Reads about bindings that several places share (attribution, routing, the clerk app, the console)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet

from omo.binding.models import Binding, BindingPolicy, ClerkCode, Transfer
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.staff.models import User

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed from a poster
CODE_LENGTH = 10


def normalize_code(raw: str) -> str | None:
    """The code as stored (upper case), or None when it cannot be one of ours."""
    code = (raw or "").strip().upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def find_code(raw: str) -> ClerkCode | None:
    """The clerk code (codes are unique across brands: the link carries no brand)."""
    code = normalize_code(raw)
    if code is None:
        return None
    return ClerkCode.objects.select_related("clerk__store__brand", "brand").filter(code=code).first()


def policy_for(brand_id: int) -> BindingPolicy:
    """The brand's binding policy; the default (first clerk keeps) when none was saved."""
    return BindingPolicy.objects.filter(brand_id=brand_id).first() or BindingPolicy(brand_id=brand_id)


def current_binding(customer: Customer) -> Binding | None:
    return current_binding_of(customer.brand_id, customer.pk)


def current_binding_of(brand_id: int, customer_id: int | None) -> Binding | None:
    """The open binding of a customer known by id, with the clerk, their store and brand (one query)."""
    if customer_id is None:
        return None
    return (
        Binding.objects.select_related("clerk__store__brand", "store")
        .filter(brand_id=brand_id, customer_id=customer_id, ended_at__isnull=True)
        .first()
    )


def bound_clerk_id(brand_id: int, customer_id: int | None) -> int | None:
    """Only the id of the customer's current clerk (for deciding who hears about a message)."""
    if customer_id is None:
        return None
    return (
        Binding.objects.filter(brand_id=brand_id, customer_id=customer_id, ended_at__isnull=True)
        .values_list("clerk_id", flat=True)
        .first()
    )


def clerk_at(customer: Customer, when: dt.datetime) -> User | None:
    """The clerk the customer was bound to at `when` (attribution reads this), or None."""
    binding = (
        Binding.objects.select_related("clerk")
        .filter(brand_id=customer.brand_id, customer_id=customer.pk, started_at__lte=when)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=when))
        .order_by("-started_at", "-id")
        .first()
    )
    return binding.clerk if binding is not None else None


def binding_history(customer: Customer) -> QuerySet[Binding]:
    """Every binding of the customer, newest first, with effective dates."""
    return Binding.objects.select_related("clerk", "store").filter(
        brand_id=customer.brand_id, customer_id=customer.pk
    )


def bound_bindings(clerk: User) -> QuerySet[Binding]:
    """The clerk's open bindings (their customers), newest first."""
    if clerk.brand_id is None:  # staff without a brand (superusers) bind no one
        return Binding.objects.none()
    return Binding.objects.select_related("customer").filter(
        brand_id=clerk.brand_id, clerk_id=clerk.pk, ended_at__isnull=True
    )


def bound_customer_ids(clerk: User) -> QuerySet:
    if clerk.brand_id is None:
        return Binding.objects.none().values_list("customer_id", flat=True)
    return open_binding_customer_ids(clerk.brand_id, clerk.pk)


def open_binding_customer_ids(brand_id: int, clerk_id: int | None) -> QuerySet:
    """Ids of the customers bound to a clerk now (a clerk's API key knows only the clerk's id)."""
    return Binding.objects.filter(brand_id=brand_id, clerk_id=clerk_id, ended_at__isnull=True).values(
        "customer_id"
    )


def binding_info(customer: Customer) -> dict[str, Any]:
    """What the clerk app and console show about a customer's binding."""
    binding = current_binding(customer)
    return {
        "bound": binding is not None,
        "clerk_id": binding.clerk_id if binding else None,
        "clerk_name": str(binding.clerk) if binding else "",
        "store_id": binding.store_id if binding else None,
        "store_name": str(binding.store) if binding and binding.store else "",
        "source": binding.source if binding else "",
        "bound_since": binding.started_at.isoformat() if binding else None,
        "history": [
            {
                "clerk_id": b.clerk_id,
                "clerk_name": str(b.clerk),
                "started_at": b.started_at.isoformat(),
                "ended_at": b.ended_at.isoformat() if b.ended_at else None,
                "source": b.source,
                "ended_reason": b.ended_reason,
            }
            for b in binding_history(customer)[:50]
        ],
    }


def customer_connection(actor: Actor) -> Q | None:
    """A clerk's customers include those bound to them now; a store's, those bound to its staff
    (registered with omo.customers.selectors)."""
    if actor.scope == Scope.OWN and actor.user_id:
        return Q(pk__in=open_binding_customer_ids(actor.brand.pk, actor.user_id))
    if actor.scope == Scope.STORE and actor.store_id:
        here = Q(store_id=actor.store_id)
        if actor.user_id:
            here |= Q(clerk_id=actor.user_id)
        bound_here = Binding.objects.filter(here, brand_id=actor.brand.pk, ended_at__isnull=True)
        return Q(pk__in=bound_here.values("customer_id"))
    return None


def visible_bindings(actor: Actor) -> QuerySet[Binding]:
    """The brand's bindings (open and ended) this actor may see: HQ all; a store manager those of
    their store (made there, or of a clerk who works there now); a clerk (or a clerk's key) their own."""
    bindings = Binding.objects.filter(brand_id=actor.brand.pk)
    if actor.scope == Scope.BRAND:
        return bindings
    if actor.scope == Scope.STORE and actor.store_id:
        return bindings.filter(Q(store_id=actor.store_id) | Q(clerk__store_id=actor.store_id))
    if actor.scope == Scope.OWN and actor.user_id:
        return bindings.filter(clerk_id=actor.user_id)
    return bindings.none()


def visible_transfers(actor: Actor) -> QuerySet[Transfer]:
    """Transfer batches this actor may see and undo: HQ all; a store manager those of their own
    store's clerks; nobody else."""
    transfers = Transfer.objects.filter(brand_id=actor.brand.pk).select_related(
        "from_clerk", "to_clerk", "to_store", "actor"
    )
    if actor.scope == Scope.BRAND:
        return transfers
    if actor.scope == Scope.STORE and actor.store_id:
        return transfers.filter(from_clerk__store_id=actor.store_id)
    return transfers.none()


def bound_counts(clerk_ids: list[int], brand_id: int) -> dict[int, int]:
    """Open bindings per clerk (for rosters and the transfer form)."""
    rows = (
        Binding.objects.filter(brand_id=brand_id, clerk_id__in=clerk_ids, ended_at__isnull=True)
        .values("clerk_id")
        .annotate(n=Count("id"))
    )
    return {row["clerk_id"]: row["n"] for row in rows}
