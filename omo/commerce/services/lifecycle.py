"""An order's life after it is recorded: paid, fulfilled, cancelled, refunded."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from omo.catalog import inventory
from omo.catalog.models import Location
from omo.commerce.models import Order, OrderLine, Refund
from omo.commerce.schemas import RefundIn
from omo.commerce.services.recording import OrderError, after_paid
from omo.core import audit, events
from omo.core.audit import Actor
from omo.loyalty import services as loyalty

logger = logging.getLogger(__name__)


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


@transaction.atomic
def mark_paid(order: Order, *, actor: Actor | None, at: dt.datetime | None = None) -> Order:
    order = _locked(order)
    if order.status != Order.Status.PLACED:
        raise OrderError("status", f"an order that is {order.status} cannot be marked paid", status=409)
    order.status = Order.Status.PAID
    order.paid_at = at or timezone.now()
    order.save(update_fields=["status", "paid_at"])
    after_paid(order)
    if actor is not None:
        audit.record(actor, "order.paid", order)
    events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    return order


@transaction.atomic
def fulfil(order: Order, *, actor: Actor | None) -> Order:
    """Goods handed over (shipped or picked up): reserved stock leaves the location.

    Pay-on-delivery and pay-in-store orders are paid at that moment too.
    """
    order = _locked(order)
    if order.status not in (Order.Status.PLACED, Order.Status.PAID):
        raise OrderError("status", f"an order that is {order.status} cannot be fulfilled", status=409)
    was_placed = order.status == Order.Status.PLACED
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            inventory.commit(reservation, reference=f"order:{order.pk}")
    now = timezone.now()
    order.status = Order.Status.FULFILLED
    order.fulfilled_at = now
    if was_placed:
        order.paid_at = now
    order.save(update_fields=["status", "fulfilled_at", "paid_at"])
    if was_placed:
        after_paid(order)
        events.publish("order.paid", brand_id=order.brand_id, order_id=order.pk)
    if actor is not None:
        audit.record(actor, "order.fulfilled", order)
    return order


@transaction.atomic
def cancel(order: Order, *, actor: Actor | None, reason: str = "") -> Order:
    order = _locked(order)
    if order.status not in (Order.Status.PLACED, Order.Status.PAID):
        raise OrderError("status", f"an order that is {order.status} cannot be cancelled", status=409)
    for line in order.lines.prefetch_related("reservations"):
        for reservation in line.reservations.all():
            inventory.release(reservation, reference=f"order:{order.pk}")
    loyalty.undo_for_cancellation(order)
    loyalty.release_coupon(order)
    order.status = Order.Status.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at"])
    if order.customer is not None:
        loyalty.recompute_tier(order.customer)
    if actor is not None:
        audit.record(actor, "order.cancelled", order, reason=reason)
    events.publish("order.cancelled", brand_id=order.brand_id, order_id=order.pk)  # last: the rollup's deltas
    return order


def refund(order: Order, data: RefundIn, *, actor: Actor | None) -> tuple[Refund, bool]:
    """Refund part or all of a paid order. Idempotent on (order, external_id)."""
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


def _refund(order: Order, data: RefundIn, *, actor: Actor | None) -> Refund:
    order = _locked(order)
    if order.status not in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.PARTIALLY_REFUNDED):
        raise OrderError("status", f"an order that is {order.status} cannot be refunded", status=409)
    remaining = order.total - order.refunded_total
    if data.amount > remaining:
        raise OrderError("amount", f"{data.amount} exceeds the refundable {remaining}")
    lines_by_id = {line.pk: line for line in order.lines.all()}
    for index, item in enumerate(data.lines):
        line_id = item.get("line_id")
        line = lines_by_id.get(line_id) if line_id is not None else None
        quantity = item.get("quantity")
        if line is None:
            raise OrderError(f"lines[{index}].line_id", "not a line of this order")
        if (
            not isinstance(quantity, int)
            or quantity <= 0
            or quantity > line.quantity - line.refunded_quantity
        ):
            raise OrderError(
                f"lines[{index}].quantity", f"must be 1..{line.quantity - line.refunded_quantity}"
            )
    refund_row = Refund.objects.create(
        brand_id=order.brand_id,
        order=order,
        external_id=data.external_id,
        amount=data.amount,
        reason=data.reason,
        lines=data.lines,
        restock=data.restock,
        created_by=actor.user if actor is not None and actor.user is not None else None,
    )
    for item in data.lines:
        line = lines_by_id[item["line_id"]]
        OrderLine.objects.filter(pk=line.pk).update(
            refunded_quantity=F("refunded_quantity") + item["quantity"]
        )
        if data.restock and line.variant is not None:
            location = _restock_location(order)
            if location is not None:
                inventory.restock(
                    line.variant, location, item["quantity"], reference=f"refund:{refund_row.pk}"
                )
    order.refunded_total += data.amount
    order.status = (
        Order.Status.REFUNDED if order.refunded_total >= order.total else Order.Status.PARTIALLY_REFUNDED
    )
    order.save(update_fields=["refunded_total", "status"])
    loyalty.reverse_for_refund(order, refund_row)
    if order.customer is not None:
        loyalty.recompute_tier(order.customer)
    if actor is not None:
        audit.record(actor, "order.refunded", order, amount=data.amount, refund_id=refund_row.pk)
    events.publish(
        "order.refunded",
        brand_id=order.brand_id,
        order_id=order.pk,
        refund_id=refund_row.pk,
        amount=data.amount,
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
