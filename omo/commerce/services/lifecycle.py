"""An order's life after it is recorded: paid, fulfilled, cancelled, refunded.

Which step an order's state allows is `selectors.allowed_actions`; who may take it is the actor's
role (`orders.manage` for pay, fulfil and cancel; `orders.refund` for refunds) and scope (a store
manager acts on their store's orders only). Each step is stored as an `OrderAction` with its
reason (the order's history), audited, and published as a domain event so attribution, loyalty,
the rollups and outgoing webhooks follow. A step sent again with the same idempotency key answers
with the order as it is instead of a conflict.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from omo.catalog import inventory
from omo.catalog.models import Location, Reservation
from omo.commerce import selectors
from omo.commerce.models import Carrier, Order, OrderAction, OrderLine, Refund
from omo.commerce.schemas import RefundIn
from omo.commerce.services.recording import OrderError, after_paid
from omo.core import audit, events
from omo.core.audit import Actor
from omo.loyalty import services as loyalty

logger = logging.getLogger(__name__)

MANAGE = "orders.manage"
REFUND = "orders.refund"

_VERBS = {
    selectors.PAY: "marked paid",
    selectors.FULFIL: "fulfilled",
    selectors.CANCEL: "cancelled",
    selectors.REFUND: "refunded",
}


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def check_may_act(actor: Actor | None, order: Order, permission: str) -> None:
    """Refuse an actor whose role may not take the step (403) or who may not see the order (404).

    Without an actor (a connector, a task) the caller has already decided."""
    if actor is None:
        return
    if not actor.can(permission):
        raise OrderError("role", f"role {actor.role} may not {permission}", status=403, code="forbidden")
    if not selectors.visible_orders(actor).filter(pk=order.pk).exists():
        raise OrderError("order", f"order {order.pk} not found", status=404, code="not_found")


def _check_allowed(order: Order, action: str) -> None:
    if action not in selectors.allowed_actions(order):
        raise OrderError(
            "status",
            f"an order that is {order.status} cannot be {_VERBS[action]}",
            status=409,
            code="invalid_transition",
            order_status=order.status,
            allowed_actions=sorted(selectors.allowed_actions(order)),
        )


def _repeat(order: Order, kind: str, idempotency_key: str) -> bool:
    return bool(idempotency_key) and order.actions.filter(kind=kind, idempotency_key=idempotency_key).exists()


def _remember(
    order: Order,
    kind: str,
    *,
    actor: Actor | None,
    reason: str = "",
    idempotency_key: str = "",
    **detail: Any,
) -> OrderAction:
    return OrderAction.objects.create(
        brand_id=order.brand_id,
        order=order,
        kind=kind,
        actor_user=actor.user if actor is not None and actor.user is not None and actor.user.pk else None,
        actor_label=actor.label if actor is not None else "system",
        reason=reason,
        detail=detail,
        idempotency_key=idempotency_key,
    )


def _clean_text(field: str, value: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise OrderError(field, f"must be at most {limit} characters")
    if "\x00" in value:
        raise OrderError(field, "must not contain the NUL character (\\u0000)")
    return value


@transaction.atomic
def mark_paid(
    order: Order,
    *,
    actor: Actor | None,
    at: dt.datetime | None = None,
    note: str = "",
    idempotency_key: str = "",
) -> Order:
    check_may_act(actor, order, MANAGE)
    note = _clean_text("note", note, 250)
    order = _locked(order)
    if _repeat(order, OrderAction.Kind.PAID, idempotency_key):
        return order
    _check_allowed(order, selectors.PAY)
    order.status = Order.Status.PAID
    order.paid_at = at or timezone.now()
    order.save(update_fields=["status", "paid_at"])
    after_paid(order)
    _remember(order, OrderAction.Kind.PAID, actor=actor, reason=note, idempotency_key=idempotency_key)
    if actor is not None:
        audit.record(actor, "order.paid", order, note=note)
    events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    return order


@transaction.atomic
def fulfil(
    order: Order,
    *,
    actor: Actor | None,
    carrier: str = "",
    tracking_number: str = "",
    note: str = "",
    idempotency_key: str = "",
) -> Order:
    """Goods handed over (shipped or picked up): reserved stock leaves the location.

    Pay-on-delivery and pay-in-store orders are paid at that moment too. A shipment may name its
    carrier and tracking number; a tracking number needs a carrier.
    """
    check_may_act(actor, order, MANAGE)
    carrier = (carrier or "").strip()
    if carrier and carrier not in Carrier.values:
        raise OrderError("carrier", f"unknown carrier {carrier!r}; one of {', '.join(Carrier.values)}")
    tracking_number = _clean_text("tracking_number", tracking_number, 60)
    if tracking_number and not carrier:
        raise OrderError("carrier", "a tracking number needs its carrier")
    note = _clean_text("note", note, 250)
    order = _locked(order)
    if _repeat(order, OrderAction.Kind.FULFILLED, idempotency_key):
        return order
    _check_allowed(order, selectors.FULFIL)
    was_placed = order.status == Order.Status.PLACED
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            inventory.commit(reservation, reference=f"order:{order.pk}")
    now = timezone.now()
    # A partly refunded order keeps saying so; its fulfilment time tells that it left.
    if order.status != Order.Status.PARTIALLY_REFUNDED:
        order.status = Order.Status.FULFILLED
    order.fulfilled_at = now
    if was_placed:
        order.paid_at = now
    order.carrier = carrier
    order.tracking_number = tracking_number
    order.save(update_fields=["status", "fulfilled_at", "paid_at", "carrier", "tracking_number"])
    if was_placed:
        after_paid(order)
        events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    _remember(
        order,
        OrderAction.Kind.FULFILLED,
        actor=actor,
        reason=note,
        idempotency_key=idempotency_key,
        carrier=carrier,
        tracking_number=tracking_number,
        paid_on_delivery=was_placed,
    )
    if actor is not None:
        audit.record(
            actor, "order.fulfilled", order, carrier=carrier, tracking_number=tracking_number, note=note
        )
    events.publish("order.fulfilled", brand_id=order.brand_id, order_id=order.pk)
    return order


@transaction.atomic
def cancel(order: Order, *, actor: Actor | None, reason: str = "", idempotency_key: str = "") -> Order:
    check_may_act(actor, order, MANAGE)
    reason = _clean_text("reason", reason, 250)
    order = _locked(order)
    if _repeat(order, OrderAction.Kind.CANCELLED, idempotency_key):
        return order
    _check_allowed(order, selectors.CANCEL)
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            if reservation.status == Reservation.Status.COMMITTED:
                # Units a till sale took off the shelf at once (the only ones gone before fulfilment).
                inventory.return_sale(reservation, reference=f"order:{order.pk}")
            else:
                inventory.release(reservation, reference=f"order:{order.pk}")
    loyalty.undo_for_cancellation(order)
    loyalty.release_coupon(order)
    order.status = Order.Status.CANCELLED
    order.cancelled_at = timezone.now()
    order.cancel_reason = reason
    order.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    if order.customer is not None:
        loyalty.recompute_tier(order.customer)
    _remember(order, OrderAction.Kind.CANCELLED, actor=actor, reason=reason, idempotency_key=idempotency_key)
    if actor is not None:
        audit.record(actor, "order.cancelled", order, reason=reason)
    events.publish("order.cancelled", brand_id=order.brand_id, order_id=order.pk)  # last: the rollup's deltas
    return order


def refund(order: Order, data: RefundIn, *, actor: Actor | None) -> tuple[Refund, bool]:
    """Refund part or all of a paid order: an amount, lines, or both (lines alone refund their
    share of the line totals). Idempotent on (order, external_id)."""
    check_may_act(actor, order, REFUND)
    existing = Refund.objects.filter(order=order, external_id=data.external_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return _refund(order, data, actor=actor), True
    except IntegrityError:
        existing = Refund.objects.filter(order=order, external_id=data.external_id).first()
        if existing is None:
            raise
        return existing, False


def line_refund_amount(line: OrderLine, quantity: int) -> int:
    """A line's share for `quantity` of its units: the last units take what rounding left over."""
    if quantity >= line.quantity - line.refunded_quantity:
        already = line.total * line.refunded_quantity // line.quantity if line.quantity else 0
        return line.total - already
    return line.total * quantity // line.quantity if line.quantity else 0


def _refund(order: Order, data: RefundIn, *, actor: Actor | None) -> Refund:
    order = _locked(order)
    _check_allowed(order, selectors.REFUND)
    remaining = order.total - order.refunded_total
    lines_by_id = {line.pk: line for line in order.lines.all()}
    seen: set[int] = set()
    from_lines = 0
    for index, item in enumerate(data.lines):
        line_id = item.get("line_id")
        line = lines_by_id.get(line_id) if isinstance(line_id, int) else None
        quantity = item.get("quantity")
        if line is None:
            raise OrderError(f"lines[{index}].line_id", "not a line of this order")
        if line.pk in seen:
            raise OrderError(f"lines[{index}].line_id", "this line is listed twice")
        seen.add(line.pk)
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or quantity <= 0
            or quantity > line.quantity - line.refunded_quantity
        ):
            left = line.quantity - line.refunded_quantity
            raise OrderError(
                f"lines[{index}].quantity",
                f"must be 1..{left}" if left else "every unit of this line was refunded already",
            )
        from_lines += line_refund_amount(line, quantity)
    amount = data.amount if data.amount is not None else min(from_lines, remaining)
    if amount <= 0:
        raise OrderError("amount", "nothing to refund: give an amount or lines")
    if amount > remaining:
        raise OrderError("amount", f"{amount} exceeds the refundable {remaining}", refundable=remaining)
    refund_row = Refund.objects.create(
        brand_id=order.brand_id,
        order=order,
        external_id=data.external_id,
        amount=amount,
        reason=data.reason,
        lines=data.lines,
        restock=data.restock,
        created_by=actor.user if actor is not None and actor.user is not None and actor.user.pk else None,
    )
    held = set(
        Reservation.objects.filter(order_line__order=order, status=Reservation.Status.ACTIVE).values_list(
            "order_line_id", flat=True
        )
    )
    for item in data.lines:
        line = lines_by_id[item["line_id"]]
        OrderLine.objects.filter(pk=line.pk).update(
            refunded_quantity=F("refunded_quantity") + item["quantity"]
        )
        # Units still reserved never left the location: putting them back would count them twice.
        if data.restock and line.variant is not None and line.pk not in held:
            location = _restock_location(order)
            if location is not None:
                inventory.restock(
                    line.variant, location, item["quantity"], reference=f"refund:{refund_row.pk}"
                )
    order.refunded_total += amount
    order.status = (
        Order.Status.REFUNDED if order.refunded_total >= order.total else Order.Status.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_total", "status"])
    if order.status == Order.Status.REFUNDED and held:
        # Refunded in full before it left: nothing will be shipped, so the reservations end.
        for reservation in Reservation.objects.filter(
            order_line__order=order, status=Reservation.Status.ACTIVE
        ):
            inventory.release(reservation, reference=f"refund:{refund_row.pk}")
    loyalty.reverse_for_refund(order, refund_row)
    if order.customer is not None:
        loyalty.recompute_tier(order.customer)
    _remember(
        order,
        OrderAction.Kind.REFUNDED,
        actor=actor,
        reason=data.reason,
        amount=amount,
        refund_id=refund_row.pk,
        external_id=data.external_id,
        restock=data.restock,
        units=sum(int(item["quantity"]) for item in data.lines),
    )
    if actor is not None:
        audit.record(
            actor, "order.refunded", order, amount=amount, refund_id=refund_row.pk, reason=data.reason
        )
    events.publish(
        "order.refunded",
        brand_id=order.brand_id,
        order_id=order.pk,
        refund_id=refund_row.pk,
        amount=amount,
    )
    return refund_row


def _restock_location(order: Order) -> Location | None:
    if order.store_id:
        return Location.objects.filter(store_id=order.store_id).first()
    first_line = order.lines.first()
    reservation = first_line.reservations.first() if first_line is not None else None
    if reservation is not None:
        return reservation.location
    return Location.objects.filter(brand_id=order.brand_id, ships_online_orders=True).first()
