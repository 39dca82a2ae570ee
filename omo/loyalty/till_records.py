"""What stores' tills redeemed: coupon uses and points spent at a POS, with their store, till (the
API key), staff member, time and whether the sale was voided (docs/pos.md). Read by the console's
order page, customer page and the list under 會員 → 門市折抵紀錄.

Who sees which: HQ every store's; a store manager their own store's; nobody else. A redemption
made without a store (an HQ key that named none) is HQ's only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.loyalty.models import CouponRedemption, PointsEntry
from omo.staff.models import Store

REDEEM_PREFIX = "till:redeem:"
RESTORE_PREFIX = "till:restore:"


@dataclass(frozen=True)
class TillRecord:
    """One coupon use or one points spend at a till, and its reversal if the sale was voided."""

    kind: str  # "coupon" | "points"
    transaction_id: str
    at: dt.datetime
    store: Store | None
    till: str  # the API key's name; "" when redeemed by a signed-in user
    staff: str  # the staff member at the till, "" when the POS named none
    customer: Customer | None
    order_id: int | None
    code: str  # coupon: the code typed
    coupon_name: str
    amount: int  # coupon: minor units taken off; points: the points spent
    reversed_at: dt.datetime | None
    reverse_reason: str

    @property
    def reversed(self) -> bool:
        return self.reversed_at is not None


def _scoped(actor: Actor, rows: QuerySet, store_field: str = "store_id") -> QuerySet:
    rows = rows.filter(brand_id=actor.brand.pk)
    if actor.scope == Scope.BRAND:
        return rows
    if actor.scope == Scope.STORE and actor.store_id:
        return rows.filter(**{store_field: actor.store_id})
    return rows.none()


def _name(user) -> str:
    if user is None:
        return ""
    return str(getattr(user, "display_name", "") or user.get_username())


def coupon_uses(actor: Actor) -> QuerySet[CouponRedemption]:
    return _scoped(actor, CouponRedemption.objects.filter(transaction_id__isnull=False)).select_related(
        "code__coupon", "store", "api_key", "staff", "customer"
    )


def points_spent(actor: Actor) -> QuerySet[PointsEntry]:
    return _scoped(
        actor,
        PointsEntry.objects.filter(kind=PointsEntry.Kind.REDEEM, idempotency_key__startswith=REDEEM_PREFIX),
    ).select_related("store", "api_key", "actor", "customer")


def _coupon_record(redemption: CouponRedemption) -> TillRecord:
    return TillRecord(
        kind="coupon",
        transaction_id=redemption.transaction_id or "",
        at=redemption.created_at,
        store=redemption.store,
        till=redemption.api_key.name if redemption.api_key is not None else "",
        staff=_name(redemption.staff),
        customer=redemption.customer,
        order_id=redemption.order_id,
        code=redemption.code.code,
        coupon_name=redemption.code.coupon.name,
        amount=redemption.amount,
        reversed_at=redemption.reversed_at,
        reverse_reason=redemption.reverse_reason or "",
    )


def _points_records(entries: list[PointsEntry]) -> list[TillRecord]:
    """The spends with their give-backs: the till's void (`till:restore:<sale>`), or the cancelled
    order's restore once the sale was linked to an order."""
    sales = {entry.pk: (entry.idempotency_key or "").removeprefix(REDEEM_PREFIX) for entry in entries}
    brand_ids = {entry.brand_id for entry in entries}
    restores = PointsEntry.objects.filter(brand_id__in=brand_ids, kind=PointsEntry.Kind.RESTORE).filter(
        Q(idempotency_key__in=[RESTORE_PREFIX + sale for sale in sales.values()])
        | Q(order_id__in=[entry.order_id for entry in entries if entry.order_id is not None])
    )
    by_sale: dict[str, PointsEntry] = {}
    by_order: dict[int, PointsEntry] = {}
    for restore in restores.order_by("created_at", "id"):
        key = restore.idempotency_key or ""
        if key.startswith(RESTORE_PREFIX):
            by_sale.setdefault(key.removeprefix(RESTORE_PREFIX), restore)
        if restore.order_id is not None:
            by_order.setdefault(restore.order_id, restore)
    records = []
    for entry in entries:
        sale = sales[entry.pk]
        given_back = by_sale.get(sale) or (by_order.get(entry.order_id) if entry.order_id else None)
        records.append(
            TillRecord(
                kind="points",
                transaction_id=sale,
                at=entry.created_at,
                store=entry.store,
                till=entry.api_key.name if entry.api_key is not None else "",
                staff=_name(entry.actor),
                customer=entry.customer,
                order_id=entry.order_id,
                code="",
                coupon_name="",
                amount=-entry.delta,
                reversed_at=given_back.created_at if given_back is not None else None,
                reverse_reason=_restore_reason(given_back),
            )
        )
    return records


def _restore_reason(entry: PointsEntry | None) -> str:
    """The reason the till gave ("POS 交易 … 作廢退回：<reason>" keeps only <reason>)."""
    if entry is None:
        return ""
    reason = entry.reason or ""
    head, sep, tail = reason.partition("：")
    return tail if sep and head.startswith("POS 交易") else reason


def _merge(
    coupons: QuerySet[CouponRedemption], points: QuerySet[PointsEntry], limit: int
) -> list[TillRecord]:
    records = [_coupon_record(r) for r in coupons.order_by("-created_at", "-id")[:limit]]
    records += _points_records(list(points.order_by("-created_at", "-id")[:limit]))
    return sorted(records, key=lambda record: record.at, reverse=True)[:limit]


def till_records(
    actor: Actor,
    *,
    store_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 500,
) -> list[TillRecord]:
    """The latest till redemptions the actor may see, newest first, at most `limit`."""
    coupons, points = coupon_uses(actor), points_spent(actor)
    if store_id is not None:
        coupons, points = coupons.filter(store_id=store_id), points.filter(store_id=store_id)
    if since is not None:
        coupons, points = coupons.filter(created_at__gte=since), points.filter(created_at__gte=since)
    if until is not None:
        coupons, points = coupons.filter(created_at__lt=until), points.filter(created_at__lt=until)
    return _merge(coupons, points, limit)


def order_till_records(actor: Actor, order) -> list[TillRecord]:
    """What the till redeemed on this order's sale (tied to the order when the POS sale was
    recorded with the sale id as its external_id)."""
    return _merge(
        coupon_uses(actor).filter(order_id=order.pk), points_spent(actor).filter(order_id=order.pk), 50
    )


def customer_till_records(actor: Actor, customer: Customer) -> list[TillRecord]:
    """The customer's till redemptions at the stores the actor sees (the latest 50)."""
    return _merge(
        coupon_uses(actor).filter(customer=customer), points_spent(actor).filter(customer=customer), 50
    )
