"""Transfers: one, some or all of a clerk's customers moved to another clerk, spread evenly over a
store's active clerks, or handed to the store team; by HQ admins or the clerk's own store manager,
audited and undoable for 30 days. Each customer is told in chat (LINE, when consent allows it).

Spread: the customers (oldest binding first) go one at a time to the store's active clerk who has
the fewest bound customers at that moment (ties: the lower staff id), so clerks who already serve
many receive fewer, and once everyone is level the customers go round robin.

Undo puts back every customer whose binding the transfer made is still their current one; a
customer bound anew since (a scan, a recovery, a later transfer) keeps the newer clerk and is
counted as skipped. An undo needs the original clerk still active.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from omo.binding import chat, selectors
from omo.binding.models import Binding, Transfer
from omo.binding.services.bindings import check_clerk, close_binding, create_binding, reroute
from omo.binding.services.errors import BindingError
from omo.binding.services.notices import notify_customer, store_team_notice, transfer_notice
from omo.core import audit
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.staff.models import Store, User
from omo.staff.roles import Role

UNDO_DAYS = 30
BINDABLE_ROLES = (Role.CLERK, Role.STORE_MANAGER)


@dataclass(frozen=True)
class UndoResult:
    restored: list[int]  # customer ids back with the original clerk
    skipped: list[int]  # customer ids bound anew since the transfer, left where they are


def _check_manages(actor: Actor, clerk: User | None) -> User:
    """HQ admins transfer anyone of the brand; store managers only their own store's clerks."""
    if clerk is None or clerk.brand_id != actor.brand.pk:
        raise BindingError("from_clerk", "no such clerk in this brand", status=404)
    if actor.role == Role.HQ_ADMIN:
        return clerk
    if actor.role == Role.STORE_MANAGER and actor.store_id and clerk.store_id == actor.store_id:
        return clerk
    raise BindingError(
        "actor",
        "only HQ admins and the clerk's store manager can transfer bindings",
        code="not_manager",
        status=403,
    )


def _check_target(actor: Actor, to_clerk: User, from_clerk: User) -> None:
    check_clerk(to_clerk, actor.brand.pk)
    if to_clerk.pk == from_clerk.pk:
        raise BindingError("to_clerk", "cannot transfer to the same clerk", code="same_clerk")
    if to_clerk.role not in BINDABLE_ROLES:
        raise BindingError(
            "to_clerk", "customers can be bound only to clerks and store managers", code="not_a_clerk"
        )
    if actor.role != Role.HQ_ADMIN and to_clerk.store_id != actor.store_id:
        raise BindingError(
            "to_clerk",
            "a store manager can transfer only to clerks of their own store",
            code="other_store",
            status=403,
        )


def spread_targets(store: Store, *, exclude: User | None = None) -> list[tuple[int, User]]:
    """The store's active clerks with their current number of bound customers, fewest first."""
    clerks = User.objects.filter(brand_id=store.brand_id, store=store, role=Role.CLERK, is_active=True)
    if exclude is not None:
        clerks = clerks.exclude(pk=exclude.pk)
    clerks = clerks.annotate(bound=Count("bindings", filter=Q(bindings__ended_at__isnull=True))).order_by(
        "bound", "pk"
    )
    return [(clerk.bound, clerk) for clerk in clerks]


def plan_spread(bindings: list[Binding], targets: list[tuple[int, User]]) -> list[User]:
    """The clerk for each binding, in order: always the one with the fewest customers so far."""
    heap = [(count, clerk.pk, clerk) for count, clerk in targets]
    heapq.heapify(heap)
    plan = []
    for _binding in bindings:
        count, pk, clerk = heapq.heappop(heap)
        plan.append(clerk)
        heapq.heappush(heap, (count + 1, pk, clerk))
    return plan


@transaction.atomic
def transfer_bindings(
    from_clerk: User | None,
    *,
    actor: Actor,
    to_clerk: User | None = None,
    to_store: Store | None = None,
    spread: bool = False,
    customer_ids: list[int] | None = None,
    reason: str = "",
    notify: bool = True,
    at: dt.datetime | None = None,
) -> Transfer:
    """Move one, some (`customer_ids`) or all of a clerk's customers.

    Exactly one target: `to_clerk`; `spread=True` (over the active clerks of `to_store`, by default
    the clerk's own store); or `to_store` alone (the bindings end and the store team owns the
    conversations). With `notify` each customer is told in chat who serves them now. Audited;
    undoable for 30 days.
    """
    from_clerk = _check_manages(actor, from_clerk)
    if spread:
        if to_clerk is not None:
            raise BindingError("to", "give either to_clerk or spread, not both", code="one_target")
        to_store = to_store or from_clerk.store
        if to_store is None:
            raise BindingError(
                "to_store", "this clerk has no store: choose the store to spread over", code="no_store"
            )
    elif (to_clerk is None) == (to_store is None):
        raise BindingError("to", "give exactly one of to_clerk, to_store or spread", code="one_target")
    if to_clerk is not None:
        _check_target(actor, to_clerk, from_clerk)
    if to_store is not None:
        if to_store.brand_id != actor.brand.pk or not to_store.is_active:
            raise BindingError("to_store", "no such store in this brand", status=404)
        if actor.role != Role.HQ_ADMIN and to_store.pk != actor.store_id:
            raise BindingError(
                "to_store",
                "a store manager can transfer only within their own store",
                code="other_store",
                status=403,
            )
    at = at or timezone.now()
    bindings = list(
        Binding.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(brand_id=actor.brand.pk, clerk=from_clerk, ended_at__isnull=True)
        .order_by("started_at", "id")
    )
    if customer_ids is not None:
        wanted = {int(pk) for pk in customer_ids}
        if not wanted:
            raise BindingError(
                "customer_ids",
                "choose at least one customer, or leave the list out for all",
                code="no_customers_chosen",
            )
        bindings = [b for b in bindings if b.customer_id in wanted]
        missing = wanted - {b.customer_id for b in bindings}
        if missing:
            raise BindingError(
                "customer_ids", f"not bound to this clerk: {sorted(missing)}", code="not_bound"
            )
    if not bindings:
        raise BindingError(
            "from_clerk", "this clerk has no bound customers to transfer", code="no_customers", status=409
        )
    plan: list[User | None]
    if spread:
        assert to_store is not None
        targets = spread_targets(to_store, exclude=from_clerk)
        if not targets:
            raise BindingError(
                "to_store",
                "this store has no other active clerk to spread the customers over",
                code="no_clerks",
            )
        plan = list(plan_spread(bindings, targets))
        mode = Transfer.Mode.SPREAD
    elif to_clerk is not None:
        plan = [to_clerk] * len(bindings)
        mode = Transfer.Mode.CLERK
    else:
        plan = [None] * len(bindings)
        mode = Transfer.Mode.STORE
    transfer = Transfer.objects.create(
        brand_id=actor.brand.pk,
        mode=mode,
        from_clerk=from_clerk,
        to_clerk=to_clerk,
        to_store=to_store,
        reason=reason[:200],
        actor=actor.user if getattr(actor.user, "pk", None) else None,
        undo_until=at + dt.timedelta(days=UNDO_DAYS),
    )
    moved = []
    for binding, target in zip(bindings, plan, strict=True):
        close_binding(binding, at=at, reason="transfer", transfer=transfer)
        new = None
        if target is not None:
            new = create_binding(
                binding.customer, target, source=Binding.Source.TRANSFER, at=at, transfer=transfer
            )
        moved.append([binding.pk, new.pk if new else None])
    transfer.moved_bindings = moved
    audit.record(
        actor,
        "binding.transferred",
        transfer,
        mode=mode,
        from_clerk=from_clerk.pk,
        to_clerk=getattr(to_clerk, "pk", None),
        to_store=getattr(to_store, "pk", None),
        customers=[b.customer_id for b in bindings],
        assigned={str(b.customer_id): t.pk for b, t in zip(bindings, plan, strict=True) if t is not None},
        reason=reason,
        notify=notify,
    )
    notified = 0
    for binding, target in zip(bindings, plan, strict=True):
        if mode == Transfer.Mode.STORE:
            assert to_store is not None
            chat.side().hand_to_store(binding.customer, to_store)
            text = store_team_notice(to_store)
        else:
            assert target is not None
            reroute(binding.customer)
            text = transfer_notice(target)
        if notify and notify_customer(binding.customer, text):
            notified += 1
    transfer.notified = notified
    transfer.save(update_fields=["moved_bindings", "notified"])
    return transfer


@transaction.atomic
def undo_transfer(
    transfer: Transfer, *, actor: Actor, notify: bool = True, at: dt.datetime | None = None
) -> UndoResult:
    """Give the customers back to the original clerk (within 30 days of the transfer).

    A customer who has been bound elsewhere since the transfer is left alone (their newer binding
    wins) and reported in `skipped`. With `notify` the restored customers are told in chat.
    """
    at = at or timezone.now()
    found = (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("from_clerk__store")
        .filter(pk=transfer.pk, brand_id=actor.brand.pk)
        .first()
    )
    if found is None:
        raise BindingError("transfer", "no such transfer", status=404)
    transfer = found
    _check_manages(actor, transfer.from_clerk)
    if transfer.undone_at is not None:
        raise BindingError("transfer", "this transfer was already undone", code="already_undone", status=409)
    if at > transfer.undo_until:
        raise BindingError(
            "transfer", f"a transfer can be undone for {UNDO_DAYS} days only", code="undo_expired", status=409
        )
    if not transfer.from_clerk.is_active:
        raise BindingError(
            "transfer",
            "the original clerk has left; transfer to another clerk instead",
            code="clerk_left",
            status=409,
        )
    restored: list[Customer] = []
    skipped: list[int] = []
    for old_id, new_id in transfer.moved_bindings:
        old = Binding.objects.select_related("customer").filter(pk=old_id, brand_id=transfer.brand_id).first()
        if old is None:
            continue
        current = selectors.current_binding(old.customer)
        if new_id is not None:
            if current is None or current.pk != new_id:
                skipped.append(old.customer_id)
                continue  # rebound (or unbound) since: their newer state stands
            close_binding(current, at=at, reason="transfer undone", transfer=transfer)
        elif current is not None:
            skipped.append(old.customer_id)
            continue
        create_binding(
            old.customer, transfer.from_clerk, source=Binding.Source.TRANSFER, at=at, transfer=transfer
        )
        restored.append(old.customer)
        reroute(old.customer)
    transfer.undone_at = at
    transfer.save(update_fields=["undone_at"])
    audit.record(
        actor,
        "binding.transfer_undone",
        transfer,
        customers=[c.pk for c in restored],
        skipped=skipped,
        notify=notify,
    )
    if notify:
        for customer in restored:
            notify_customer(customer, transfer_notice(transfer.from_clerk))
    return UndoResult(restored=[c.pk for c in restored], skipped=skipped)
