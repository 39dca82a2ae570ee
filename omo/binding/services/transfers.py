"""Transfers: one, some or all of a clerk's customers moved to another clerk or to the store team
by HQ or the clerk's store manager, audited and undoable for 30 days."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from omo.binding import chat, selectors
from omo.binding.models import Binding, Transfer
from omo.binding.services.bindings import check_clerk, close_binding, create_binding, reroute
from omo.binding.services.errors import BindingError
from omo.core import audit
from omo.core.audit import Actor
from omo.staff.models import Store, User
from omo.staff.roles import Role

UNDO_DAYS = 30


def _check_manages(actor: Actor, clerk: User | None) -> User:
    """HQ admins transfer anyone of the brand; store managers only their own store's clerks."""
    if clerk is None or clerk.brand_id != actor.brand.pk:
        raise BindingError("from_clerk", "no such clerk in this brand", status=404)
    if actor.role == Role.HQ_ADMIN:
        return clerk
    if actor.role == Role.STORE_MANAGER and actor.store_id and clerk.store_id == actor.store_id:
        return clerk
    raise BindingError(
        "actor", "only HQ admins and the clerk's store manager can transfer bindings", status=403
    )


@transaction.atomic
def transfer_bindings(
    from_clerk: User | None,
    *,
    actor: Actor,
    to_clerk: User | None = None,
    to_store: Store | None = None,
    customer_ids: list[int] | None = None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Transfer:
    """Move one, some (`customer_ids`) or all of a clerk's customers to another clerk or to the store team.

    To a store: the bindings end and the store team owns the conversations. Audited; undoable for 30 days.
    """
    from_clerk = _check_manages(actor, from_clerk)
    if (to_clerk is None) == (to_store is None):
        raise BindingError("to", "give exactly one of to_clerk or to_store")
    if to_clerk is not None:
        check_clerk(to_clerk, actor.brand.pk)
        if to_clerk.pk == from_clerk.pk:
            raise BindingError("to_clerk", "cannot transfer to the same clerk")
    if to_store is not None and (to_store.brand_id != actor.brand.pk or not to_store.is_active):
        raise BindingError("to_store", "no such store in this brand", status=404)
    at = at or timezone.now()
    bindings = list(
        Binding.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(brand_id=actor.brand.pk, clerk=from_clerk, ended_at__isnull=True)
    )
    if customer_ids is not None:
        wanted = {int(pk) for pk in customer_ids}
        bindings = [b for b in bindings if b.customer_id in wanted]
        missing = wanted - {b.customer_id for b in bindings}
        if missing:
            raise BindingError("customer_ids", f"not bound to this clerk: {sorted(missing)}")
    if not bindings:
        raise BindingError("from_clerk", "this clerk has no bound customers to transfer")
    transfer = Transfer.objects.create(
        brand_id=actor.brand.pk,
        from_clerk=from_clerk,
        to_clerk=to_clerk,
        to_store=to_store,
        reason=reason[:200],
        actor=actor.user if getattr(actor.user, "pk", None) else None,
        undo_until=at + dt.timedelta(days=UNDO_DAYS),
    )
    moved = []
    for binding in bindings:
        close_binding(binding, at=at, reason="transfer", transfer=transfer)
        new = None
        if to_clerk is not None:
            new = create_binding(
                binding.customer, to_clerk, source=Binding.Source.TRANSFER, at=at, transfer=transfer
            )
        moved.append([binding.pk, new.pk if new else None])
    transfer.moved_bindings = moved
    transfer.save(update_fields=["moved_bindings"])
    audit.record(
        actor,
        "binding.transferred",
        transfer,
        from_clerk=from_clerk.pk,
        to_clerk=getattr(to_clerk, "pk", None),
        to_store=getattr(to_store, "pk", None),
        customers=[b.customer_id for b in bindings],
        reason=reason,
    )
    for binding in bindings:
        if to_store is not None:
            chat.side().hand_to_store(binding.customer, to_store)
        else:
            reroute(binding.customer)
    return transfer


@transaction.atomic
def undo_transfer(transfer: Transfer, *, actor: Actor, at: dt.datetime | None = None) -> list[int]:
    """Give the customers back to the original clerk (within 30 days). Returns the customer ids restored.

    A customer who has been bound elsewhere since the transfer is left alone (their newer choice wins).
    """
    at = at or timezone.now()
    transfer = (
        Transfer.objects.select_for_update(of=("self",)).select_related("from_clerk").get(pk=transfer.pk)
    )
    _check_manages(actor, transfer.from_clerk)
    if transfer.undone_at is not None:
        raise BindingError("transfer", "this transfer was already undone", status=409)
    if at > transfer.undo_until:
        raise BindingError("transfer", f"a transfer can be undone for {UNDO_DAYS} days only", status=409)
    if not transfer.from_clerk.is_active:
        raise BindingError(
            "transfer", "the original clerk has left; transfer to another clerk instead", status=409
        )
    restored = []
    for old_id, new_id in transfer.moved_bindings:
        old = Binding.objects.select_related("customer").filter(pk=old_id, brand_id=transfer.brand_id).first()
        if old is None:
            continue
        current = selectors.current_binding(old.customer)
        if new_id is not None:
            if current is None or current.pk != new_id:
                continue  # rebound since: leave it
            close_binding(current, at=at, reason="transfer undone", transfer=transfer)
        elif current is not None:
            continue
        create_binding(
            old.customer, transfer.from_clerk, source=Binding.Source.TRANSFER, at=at, transfer=transfer
        )
        restored.append(old.customer_id)
        reroute(old.customer)
    transfer.undone_at = at
    transfer.save(update_fields=["undone_at"])
    audit.record(actor, "binding.transfer_undone", transfer, customers=restored)
    return restored
