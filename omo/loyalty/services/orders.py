"""Points for one order: earned when paid, spent at checkout, taken back on a refund, undone on a
cancellation. Each is posted once per order (or refund), by its idempotency key."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from django.db.models import Sum
from django.utils import timezone

from omo.loyalty.models import LoyaltyProgram, PointsEntry
from omo.loyalty.services.ledger import account_for, points_for_amount, post_points, program_for


def earn_for_order(order) -> PointsEntry | None:
    """Points for a paid order from any sales channel; once per order."""
    if order.customer_id is None:
        return None
    program = program_for(order.brand_id)
    account = account_for(order.customer)
    multiplier = account.tier.earn_multiplier_percent if account.tier is not None else 100
    eligible = order.total - order.shipping_total
    points = points_for_amount(program, eligible, multiplier)
    if points <= 0:
        return None
    earned_at = order.paid_at or order.placed_at
    expires = earned_at + relativedelta(months=program.expiry_months) if program.expiry_months else None
    return post_points(
        order.customer,
        points,
        PointsEntry.Kind.EARN,
        order=order,
        key=f"earn:order:{order.pk}",
        reason=f"訂單 {order.display_number}",
        expires_at=expires,
        at=earned_at,
    )


def max_redeemable(program: LoyaltyProgram, subtotal: int, balance: int) -> int:
    cap_amount = subtotal * program.max_redeem_percent // 100
    return max(0, min(balance, cap_amount // program.point_value))


def redeem_for_order(order, points: int) -> int:
    """Spend points at checkout; returns the discount in minor units. Raises InsufficientPoints."""
    if points <= 0:
        return 0
    program = program_for(order.brand_id)
    post_points(
        order.customer,
        -points,
        PointsEntry.Kind.REDEEM,
        order=order,
        key=f"redeem:order:{order.pk}",
        reason=f"訂單 {order.display_number} 折抵",
    )
    return points * program.point_value


def _posted(order, kind: str) -> int:
    return int(PointsEntry.objects.filter(order=order, kind=kind).aggregate(s=Sum("delta"))["s"] or 0)


def reverse_for_refund(order, refund) -> PointsEntry | None:
    """Take back the share of earned points that the refund represents (never below zero)."""
    if order.customer_id is None or order.total <= 0:
        return None
    earned = _posted(order, PointsEntry.Kind.EARN)
    if earned <= 0:
        return None
    already = -_posted(order, PointsEntry.Kind.REVERSE)
    target = min(earned, round(earned * order.refunded_total / order.total))
    to_reverse = target - already
    if to_reverse <= 0:
        return None
    balance = account_for(order.customer).balance
    to_reverse = min(to_reverse, balance)  # points already spent cannot be taken back
    return post_points(
        order.customer,
        -to_reverse,
        PointsEntry.Kind.REVERSE,
        order=order,
        key=f"reverse:refund:{refund.pk}",
        reason=f"訂單 {order.display_number} 退款",
    )


def undo_for_cancellation(order) -> None:
    """A cancelled order earns nothing and gives back the points it spent."""
    if order.customer_id is None:
        return
    earned = _posted(order, PointsEntry.Kind.EARN) + _posted(order, PointsEntry.Kind.REVERSE)
    if earned > 0:
        balance = account_for(order.customer).balance
        post_points(
            order.customer,
            -min(earned, balance),
            PointsEntry.Kind.REVERSE,
            order=order,
            key=f"reverse:cancel:{order.pk}",
            reason=f"訂單 {order.display_number} 取消",
        )
    # Points a till already gave back for this sale (a voided POS sale) are not given back twice.
    spent = -_posted(order, PointsEntry.Kind.REDEEM) - _posted(order, PointsEntry.Kind.RESTORE)
    if spent > 0:
        program = program_for(order.brand_id)
        expires = (
            timezone.now() + relativedelta(months=program.expiry_months) if program.expiry_months else None
        )
        post_points(
            order.customer,
            spent,
            PointsEntry.Kind.RESTORE,
            order=order,
            key=f"restore:cancel:{order.pk}",
            reason=f"訂單 {order.display_number} 取消退回點數",
            expires_at=expires,
        )
