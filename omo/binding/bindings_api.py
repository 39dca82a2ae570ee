"""REST endpoints for bindings and their transfers:

GET  /bindings                          who is bound to whom (filters: staff, store, customer, active)
POST /bindings/transfers                move a clerk's customers to a clerk, spread them, or to the store team
GET  /bindings/transfers                transfer batches, newest first
POST /bindings/transfers/{id}/undo      give the customers back (30 days)

Scope: a clerk's key sees only its own bindings; a store manager's key its store's (and transfers
only its store's clerks); HQ keys the whole brand. Rules live in omo.binding.services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.binding import selectors, services
from omo.binding.models import Binding, Transfer
from omo.core.api import ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.audit import Actor
from omo.staff.models import Store, User

router = Router(tags=["bindings"])

ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    410: ErrorOut,
    422: ErrorOut,
}


class BindingOut(Schema):
    id: int
    customer_id: int
    staff_id: int = Field(..., description="the bound clerk")
    staff_name: str
    store_id: int | None = Field(..., description="the clerk's store when the binding began")
    source: str = Field(..., description="liff | message_code | transfer | recovery | manual | merge")
    started_at: dt.datetime
    ended_at: dt.datetime | None
    ended_reason: str
    transfer_id: int | None
    active: bool


class BindingPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[BindingOut]


class BindingFilters(Schema):
    staff_id: int | None = Field(None, description="bound to this clerk")
    store_id: int | None = Field(None, description="made in this store")
    customer_id: int | None = None
    active: bool | None = Field(None, description="true: current bindings only; false: ended ones only")


class MoveOut(Schema):
    customer_id: int
    to_staff_id: int | None = Field(..., description="null when handed to the store team")


class TransferOut(Schema):
    id: int
    mode: str = Field(..., description="clerk | spread | store")
    from_staff_id: int
    from_staff_name: str
    to_staff_id: int | None
    to_store_id: int | None
    customer_count: int
    notified: int = Field(..., description="customers told in chat (LINE, where consent allows)")
    moves: list[MoveOut]
    reason: str
    by: str = Field(..., description="who made the transfer (a person's name, or the API)")
    created_at: dt.datetime
    undo_until: dt.datetime
    undone_at: dt.datetime | None
    can_undo: bool


class TransferPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[TransferOut]


class TransferFilters(Schema):
    from_staff_id: int | None = None
    undone: bool | None = None


class TransferIn(Schema):
    from_staff_id: int
    to_staff_id: int | None = Field(None, description="one clerk receives every customer")
    spread: bool = Field(False, description="spread evenly over the store's active clerks, fewest first")
    to_store_id: int | None = Field(
        None, description="alone: hand to the store team; with spread: the store to spread over"
    )
    customer_ids: list[int] | None = Field(None, description="only these customers (default: all)")
    reason: str = Field("", max_length=200)
    notify: bool = Field(True, description="tell each customer in chat (a billed LINE push)")


class UndoOut(Schema):
    transfer: TransferOut
    restored_customer_ids: list[int]
    skipped_customer_ids: list[int] = Field(
        ..., description="bound anew since the transfer: left with their newer clerk"
    )


def binding_out(binding: Binding) -> dict[str, Any]:
    return {
        "id": binding.pk,
        "customer_id": binding.customer_id,
        "staff_id": binding.clerk_id,
        "staff_name": str(binding.clerk),
        "store_id": binding.store_id,
        "source": binding.source,
        "started_at": binding.started_at,
        "ended_at": binding.ended_at,
        "ended_reason": binding.ended_reason,
        "transfer_id": binding.transfer_id,
        "active": binding.ended_at is None,
    }


def transfer_out(transfer: Transfer, *, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    pairs = transfer.moved_bindings or []
    ids = [pk for pair in pairs for pk in pair if pk is not None]
    rows = {
        row["pk"]: row
        for row in Binding.objects.filter(brand_id=transfer.brand_id, pk__in=ids).values(
            "pk", "customer_id", "clerk_id"
        )
    }
    moves = [
        {
            "customer_id": rows[old]["customer_id"],
            "to_staff_id": rows[new]["clerk_id"] if new is not None and new in rows else None,
        }
        for old, new in pairs
        if old in rows
    ]
    return {
        "id": transfer.pk,
        "mode": transfer.mode,
        "from_staff_id": transfer.from_clerk_id,
        "from_staff_name": str(transfer.from_clerk),
        "to_staff_id": transfer.to_clerk_id,
        "to_store_id": transfer.to_store_id,
        "customer_count": transfer.customer_count,
        "notified": transfer.notified,
        "moves": moves,
        "reason": transfer.reason,
        "by": str(transfer.actor) if transfer.actor is not None else "API",
        "created_at": transfer.created_at,
        "undo_until": transfer.undo_until,
        "undone_at": transfer.undone_at,
        "can_undo": transfer.undone_at is None and now <= transfer.undo_until,
    }


def _staff(actor: Actor, pk: int | None) -> User | None:
    if pk is None:
        return None
    return User.objects.select_related("store").filter(brand_id=actor.brand.pk, pk=pk).first()


@router.get("/bindings", auth=allow("bindings.read"), response={200: BindingPage, **ERRORS})
def list_bindings(request: HttpRequest, filters: Query[BindingFilters], paging: Query[PageParams]):
    """Bindings you may see, newest first: HQ the whole brand, a store manager's key its store, a
    clerk's key its own."""
    bindings = selectors.visible_bindings(actor_of(request)).select_related("clerk")
    if filters.staff_id is not None:
        bindings = bindings.filter(clerk_id=filters.staff_id)
    if filters.store_id is not None:
        bindings = bindings.filter(store_id=filters.store_id)
    if filters.customer_id is not None:
        bindings = bindings.filter(customer_id=filters.customer_id)
    if filters.active is not None:
        bindings = bindings.filter(ended_at__isnull=filters.active)
    return page(bindings.order_by("-started_at", "-id"), paging, binding_out)


@router.post("/bindings/transfers", auth=allow("bindings.transfer"), response={201: TransferOut, **ERRORS})
def create_transfer(request: HttpRequest, data: TransferIn):
    """Move all (or `customer_ids`) of a clerk's customers: `to_staff_id`, or `spread: true`, or
    `to_store_id` alone (the store team). Audited; undoable for 30 days."""
    actor = actor_of(request)
    to_store = None
    if data.to_store_id is not None:
        to_store = Store.objects.filter(brand_id=actor.brand.pk, pk=data.to_store_id).first()
        if to_store is None:
            raise services.BindingError("to_store_id", "no such store in this brand", status=404)
    to_clerk = None
    if data.to_staff_id is not None:
        to_clerk = _staff(actor, data.to_staff_id)
        if to_clerk is None:
            raise services.BindingError("to_staff_id", "no such clerk in this brand", status=404)
    transfer = services.transfer_bindings(
        _staff(actor, data.from_staff_id),
        actor=actor,
        to_clerk=to_clerk,
        to_store=to_store,
        spread=data.spread,
        customer_ids=data.customer_ids,
        reason=data.reason,
        notify=data.notify,
    )
    return Status(201, transfer_out(transfer))


@router.get("/bindings/transfers", auth=allow("bindings.transfer"), response={200: TransferPage, **ERRORS})
def list_transfers(request: HttpRequest, filters: Query[TransferFilters], paging: Query[PageParams]):
    """Transfer batches you may undo, newest first (a store manager's key: its store's clerks)."""
    transfers = selectors.visible_transfers(actor_of(request))
    if filters.from_staff_id is not None:
        transfers = transfers.filter(from_clerk_id=filters.from_staff_id)
    if filters.undone is not None:
        transfers = transfers.filter(undone_at__isnull=not filters.undone)
    now = timezone.now()
    return page(transfers, paging, lambda transfer: transfer_out(transfer, now=now))


@router.post(
    "/bindings/transfers/{transfer_id}/undo",
    auth=allow("bindings.transfer"),
    response={200: UndoOut, **ERRORS},
)
def undo_transfer(request: HttpRequest, transfer_id: int, notify: bool = True):
    """Give the customers back to the original clerk (within 30 days); customers bound anew since
    stay with their newer clerk and are listed in `skipped_customer_ids`. `?notify=false`: do not
    tell the customers in chat."""
    actor = actor_of(request)
    transfer = get_or_404(selectors.visible_transfers(actor), "transfer", pk=transfer_id)
    result = services.undo_transfer(transfer, actor=actor, notify=notify)
    transfer.refresh_from_db()
    return {
        "transfer": transfer_out(transfer),
        "restored_customer_ids": result.restored,
        "skipped_customer_ids": result.skipped,
    }
