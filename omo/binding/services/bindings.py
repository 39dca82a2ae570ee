"""Binding and unbinding: a customer bound to a clerk under the brand's policy, a binding ended,
a departed clerk's customer handed to the store team.

A binding change re-routes the customer's conversations at once, in the same transaction (through
omo/binding/chat.py), so the next message goes to the right person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from omo.binding import chat, selectors
from omo.binding.models import Binding, BindingPolicy, Transfer
from omo.binding.services.errors import BindingError
from omo.core import audit, events
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.staff.models import User


class Outcome:
    CREATED = "created"  # newly bound to this clerk
    ALREADY = "already"  # already bound to this clerk
    KEPT = "kept"  # bound to another clerk, who keeps the customer (policy)
    REPLACED = "replaced"  # moved from another clerk to this one (policy)


@dataclass
class BindResult:
    outcome: str
    binding: Binding
    previous: Binding | None = None
    locked_until: dt.datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def clerk(self) -> User:
        return self.binding.clerk


def _publish_created(binding: Binding) -> None:
    events.publish(
        "binding.created",
        brand_id=binding.brand_id,
        binding_id=binding.pk,
        customer_id=binding.customer_id,
        clerk_id=binding.clerk_id,
        store_id=binding.store_id,
        source=binding.source,
    )


def close_binding(
    binding: Binding, *, at: dt.datetime, reason: str, transfer: Transfer | None = None
) -> None:
    """End an open binding and publish `binding.ended` (after commit); the caller re-routes."""
    binding.ended_at = at
    binding.ended_reason = reason[:120]
    fields = ["ended_at", "ended_reason"]
    if transfer is not None:
        binding.transfer = transfer
        fields.append("transfer")
    binding.save(update_fields=fields)
    events.publish(
        "binding.ended",
        brand_id=binding.brand_id,
        binding_id=binding.pk,
        customer_id=binding.customer_id,
        clerk_id=binding.clerk_id,
        reason=binding.ended_reason,
    )


def create_binding(
    customer: Customer, clerk: User, *, source: str, at: dt.datetime, transfer: Transfer | None = None
) -> Binding:
    """Open a binding and publish `binding.created` (after commit); the caller re-routes."""
    binding = Binding.objects.create(
        brand_id=customer.brand_id,
        customer=customer,
        clerk=clerk,
        store_id=clerk.store_id,
        source=source,
        started_at=at,
        transfer=transfer,
    )
    _publish_created(binding)
    return binding


def reroute(customer: Customer) -> None:
    """Route the customer's conversations again: their binding changed."""
    chat.side().route_customer(customer)


def check_clerk(clerk: User | None, brand_id: int) -> None:
    """BindingError unless `clerk` is an active member of the brand."""
    if clerk is None or clerk.brand_id != brand_id:
        raise BindingError("clerk", "no such clerk in this brand", status=404)
    if not clerk.is_active:
        raise BindingError("clerk", "this clerk has left the brand", status=410)


def bind_customer(
    customer: Customer, clerk: User, *, source: str, at: dt.datetime | None = None, force: bool = False
) -> BindResult:
    """Bind the customer to the clerk under the brand's policy.

    first_keeps: a bound customer keeps their clerk (the caller tells them who it is);
    latest_wins: the new clerk takes over; locked_days: the new clerk takes over only after the lock.
    A binding to a departed clerk never blocks a new one. `force` (the customer's own confirmation in
    recovery) skips the policy.
    """
    check_clerk(clerk, customer.brand_id)
    at = at or timezone.now()
    with transaction.atomic():
        current = (
            Binding.objects.select_for_update(of=("self",))
            .select_related("clerk")
            .filter(brand_id=customer.brand_id, customer_id=customer.pk, ended_at__isnull=True)
            .first()
        )
        if current is not None and current.clerk_id == clerk.pk:
            return BindResult(Outcome.ALREADY, current)
        locked_until = None
        if current is not None and current.clerk.is_active and not force:
            policy = selectors.policy_for(customer.brand_id)
            if policy.rule == BindingPolicy.Rule.FIRST_KEEPS:
                return BindResult(Outcome.KEPT, current)
            if policy.rule == BindingPolicy.Rule.LOCKED_DAYS:
                locked_until = current.started_at + dt.timedelta(days=policy.lock_days)
                if at < locked_until:
                    return BindResult(Outcome.KEPT, current, locked_until=locked_until)
        if current is not None:
            close_binding(current, at=at, reason=f"rebound:{source}")
        try:
            with transaction.atomic():
                binding = create_binding(customer, clerk, source=source, at=at)
        except IntegrityError:
            # A concurrent scan bound the customer first: theirs stands, this one is a second scan.
            winner = selectors.current_binding(customer)
            if winner is None:
                raise
            return BindResult(Outcome.ALREADY if winner.clerk_id == clerk.pk else Outcome.KEPT, winner)
        reroute(customer)
    return BindResult(Outcome.REPLACED if current is not None else Outcome.CREATED, binding, previous=current)


def end_binding(binding: Binding, *, actor: Actor, reason: str = "unbound") -> Binding:
    """Unbind (解除綁定): the customer goes back to the unbound routing."""
    if binding.brand_id != actor.brand.pk:
        raise BindingError("binding", "no such binding", status=404)
    if binding.ended_at is not None:
        raise BindingError("binding", "this binding has already ended")
    with transaction.atomic():
        close_binding(binding, at=timezone.now(), reason=reason)
        audit.record(actor, "binding.ended", binding, reason=reason)
        reroute(binding.customer)
    return binding


def hand_to_store(customer: Customer, clerk: User) -> None:
    """A departed clerk's code: the clerk's store team owns the customer's conversations (HQ if none)."""
    if clerk.store_id:
        chat.side().hand_to_store(customer, clerk.store)
