"""Coupons and points at a store's till: the POS checks a code, redeems it or spends points under
its own sale id, and reverses both when the sale is voided.

The POS's sale id (`transaction_id`, sent as the `Idempotency-Key`) makes every verb safe to
retry: a repeat answers with what the first call did. A single-use code stays single-use across
the till and the web shop because both take a use with the same conditional UPDATE
(`times_used < max_uses`, see coupons.redeem_coupon); one sale holds at most one coupon.

When the sale later reaches omo as a POS order whose `external_id` is the same sale id,
`link_till_sale` ties the redemption and the points to the order, so cancelling the order gives
them back (once, whether or not the till voided them first).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyProgram, PointsEntry
from omo.loyalty.services.coupons import CouponQuote, give_back_use, quote_coupon, used_up
from omo.loyalty.services.errors import CouponError, LoyaltyError
from omo.loyalty.services.ledger import account_for, post_points, program_for
from omo.staff.models import User


class _Sale(Protocol):
    """An order as link_till_sales reads it."""

    pk: int
    brand_id: int
    external_id: str


MAX_TRANSACTION_ID = 120


def _staff_user(actor: Actor) -> User | None:
    """The staff member behind the actor: a signed-in user, or the clerk a clerk's key acts as."""
    if actor.user is not None:
        return actor.user
    return actor.api_key.staff if actor.api_key is not None else None


def _transaction_id(raw: str) -> str:
    value = (raw or "").strip()
    if not value:
        raise LoyaltyError(
            "transaction_id",
            gettext("請提供 POS 交易編號"),
        )
    if len(value) > MAX_TRANSACTION_ID or "\x00" in value:
        raise LoyaltyError(
            "transaction_id",
            gettext("交易編號最多 %(max_transaction_id)s 字") % {"max_transaction_id": MAX_TRANSACTION_ID},
        )
    return value


def check_coupon(
    brand: Brand, code: str, *, subtotal: int, customer: Customer | None, now: dt.datetime | None = None
) -> CouponQuote:
    """What the code takes off this basket, or CouponError saying why it cannot be used."""
    return quote_coupon(brand, code, subtotal=subtotal, shipping=0, customer=customer, now=now)


@dataclass(frozen=True)
class TillRedemption:
    redemption: CouponRedemption
    created: bool


def _same_sale(brand: Brand, transaction_id: str) -> CouponRedemption | None:
    return (
        CouponRedemption.objects.select_related("code__coupon")
        .filter(brand=brand, transaction_id=transaction_id)
        .first()
    )


def _repeat(existing: CouponRedemption, code: str) -> TillRedemption:
    if existing.code.code.upper() != code.strip().upper():
        raise CouponError(
            gettext("這筆交易已使用優惠碼 %(code)s，一筆交易限用一張") % {"code": existing.code.code},
            code="coupon_already_on_sale",
            status=409,
        )
    if existing.reversed_at is not None:
        raise CouponError(
            gettext("這筆交易的優惠碼 %(code)s 已作廢，請用新的交易編號") % {"code": existing.code.code},
            code="sale_voided",
            status=409,
        )
    return TillRedemption(existing, False)


def redeem_at_till(
    brand: Brand,
    code: str,
    *,
    subtotal: int,
    customer: Customer | None,
    transaction_id: str,
    store_id: int | None,
    actor: Actor,
    staff: User | None = None,
) -> TillRedemption:
    """Take one use of the code for this till sale. Idempotent on (brand, transaction_id).
    `staff`: the staff member at the till, when the POS names one."""
    transaction_id = _transaction_id(transaction_id)
    existing = _same_sale(brand, transaction_id)
    if existing is not None:
        return _repeat(existing, code)
    try:
        quote = check_coupon(brand, code, subtotal=subtotal, customer=customer)
        found = quote.code
        with transaction.atomic():
            taken = (
                CouponCode.objects.filter(pk=found.pk)
                .filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")))
                .update(times_used=F("times_used") + 1)
            )
            if not taken:
                raise used_up(found)
            redemption = CouponRedemption.objects.create(
                brand=brand,
                code=found,
                customer=customer,
                amount=quote.discount,
                transaction_id=transaction_id,
                store_id=store_id,
                api_key=actor.api_key,
                staff=staff or _staff_user(actor),
            )
            audit.record(
                actor,
                "coupon.redeemed_at_till",
                redemption,
                code=found.code,
                transaction_id=transaction_id,
                store_id=store_id,
                amount=quote.discount,
            )
    except (IntegrityError, CouponError) as exc:
        # A concurrent retry of the same sale got there first: its use (the code's last, which is
        # why this one found none left) or its row (the unique sale id).
        existing = _same_sale(brand, transaction_id)
        if existing is None:
            raise
        if isinstance(exc, CouponError) and exc.code != "coupon_used":
            raise
        return _repeat(existing, code)
    redemption.code = found
    events.publish("coupon.redeemed", brand_id=brand.pk, redemption_id=redemption.pk)
    return TillRedemption(redemption, True)


def reverse_at_till(
    brand: Brand, transaction_id: str, *, reason: str, actor: Actor, store_id: int | None = None
) -> CouponRedemption:
    """A voided till sale gives the code's use back. Idempotent: a second call changes nothing.
    With `store_id` (a store's own key), only that store's sales are found: another store's, or
    one redeemed without a store (by an HQ key), answers as if there were none."""
    transaction_id = _transaction_id(transaction_id)
    redemption = _same_sale(brand, transaction_id)
    if redemption is not None and store_id is not None and redemption.store_id != store_id:
        redemption = None
    if redemption is None:
        raise LoyaltyError(
            "transaction_id",
            gettext("交易 %(transaction_id)s 沒有使用優惠碼") % {"transaction_id": transaction_id},
            status=404,
            code="not_found",
        )
    reason = (reason or "").strip()[:250] or "POS 交易作廢 / POS sale voided"
    with transaction.atomic():
        reversed_now = CouponRedemption.objects.filter(pk=redemption.pk, reversed_at__isnull=True).update(
            reversed_at=timezone.now(), reverse_reason=reason
        )
        if reversed_now:
            give_back_use(redemption.code_id)
            audit.record(
                actor,
                "coupon.reversed_at_till",
                redemption,
                code=redemption.code.code,
                transaction_id=transaction_id,
                reason=reason,
            )
    redemption.refresh_from_db()
    return redemption


# --- points -----------------------------------------------------------------------------------


def max_points_for(program: LoyaltyProgram, basket_total: int) -> int:
    """The most points the program lets a basket of this total take (max_redeem_percent of it)."""
    if program.point_value <= 0 or basket_total <= 0:
        return 0
    return basket_total * program.max_redeem_percent // 100 // program.point_value


def _redeem_key(transaction_id: str) -> str:
    return f"till:redeem:{transaction_id}"


def _restore_key(transaction_id: str) -> str:
    return f"till:restore:{transaction_id}"


@dataclass(frozen=True)
class TillPoints:
    entry: PointsEntry
    created: bool
    discount: int  # minor units the points are worth
    balance: int


def redeem_points_at_till(
    customer: Customer,
    points: int,
    *,
    transaction_id: str,
    store_code: str = "",
    store_id: int | None = None,
    basket_total: int | None = None,
    actor: Actor,
    staff: User | None = None,
) -> TillPoints:
    """Spend points on a till sale. Idempotent on the sale id; InsufficientPoints when the balance
    is short, LoyaltyError `points_over_limit` beyond the program's share of the basket. The entry
    keeps the store, the till's key and the staff member at the till (`staff`, when named)."""
    transaction_id = _transaction_id(transaction_id)
    if points <= 0:
        raise LoyaltyError("points", gettext("折抵點數須大於 0"))
    program = program_for(customer.brand_id)
    key = _redeem_key(transaction_id)
    existing = PointsEntry.objects.filter(brand_id=customer.brand_id, idempotency_key=key).first()
    if existing is None:
        if basket_total is not None:
            limit = max_points_for(program, basket_total)
            if points > limit:
                raise LoyaltyError(
                    "points",
                    gettext("這筆消費最多折抵 %(limit)s 點") % {"limit": limit},
                    code="points_over_limit",
                    limit=limit,
                )
        where = f"門市 {store_code} " if store_code else ""
        with transaction.atomic():
            entry = post_points(
                customer,
                -points,
                PointsEntry.Kind.REDEEM,
                key=key,
                reason=f"{where}POS 交易 {transaction_id} 折抵",
                user=staff or _staff_user(actor),
                store_id=store_id,
                api_key_id=actor.api_key.pk if actor.api_key is not None else None,
            )
            if entry is not None:
                audit.record(
                    actor,
                    "points.redeemed_at_till",
                    customer,
                    points=points,
                    transaction_id=transaction_id,
                    store_code=store_code,
                )
        if entry is not None:
            return TillPoints(entry, True, points * program.point_value, account_for(customer).balance)
        existing = PointsEntry.objects.get(brand_id=customer.brand_id, idempotency_key=key)
    if existing.customer_id != customer.pk or -existing.delta != points:
        raise LoyaltyError(
            "transaction_id",
            gettext("交易 %(transaction_id)s 已折抵 %(delta)s 點，內容不同")
            % {"transaction_id": transaction_id, "delta": -existing.delta},
            status=409,
            code="idempotency_conflict",
        )
    return TillPoints(existing, False, -existing.delta * program.point_value, account_for(customer).balance)


def reverse_points_at_till(
    customer: Customer, transaction_id: str, *, reason: str = "", actor: Actor, store_id: int | None = None
) -> TillPoints:
    """A voided till sale gives its points back (with a fresh expiry). Idempotent. With `store_id`
    (a store's own key), only that store's sales are found, as for coupons."""
    transaction_id = _transaction_id(transaction_id)
    spent = PointsEntry.objects.filter(
        brand_id=customer.brand_id, customer=customer, idempotency_key=_redeem_key(transaction_id)
    ).first()
    if spent is not None and store_id is not None and spent.store_id != store_id:
        spent = None
    if spent is None:
        raise LoyaltyError(
            "transaction_id",
            gettext("交易 %(transaction_id)s 沒有折抵點數") % {"transaction_id": transaction_id},
            status=404,
            code="not_found",
        )
    program = program_for(customer.brand_id)
    key = _restore_key(transaction_id)
    given_back = PointsEntry.objects.filter(brand_id=customer.brand_id, idempotency_key=key).first()
    if given_back is None and spent.order_id is not None:
        # Linked to an order that was cancelled: the cancellation already gave the points back.
        given_back = PointsEntry.objects.filter(
            order_id=spent.order_id, kind=PointsEntry.Kind.RESTORE
        ).first()
    if given_back is not None:
        return TillPoints(
            given_back, False, -spent.delta * program.point_value, account_for(customer).balance
        )
    expires = timezone.now() + relativedelta(months=program.expiry_months) if program.expiry_months else None
    reason = (reason or "").strip()[:200] or "POS 交易作廢"
    with transaction.atomic():
        entry = post_points(
            customer,
            -spent.delta,
            PointsEntry.Kind.RESTORE,
            key=key,
            order=spent.order,
            reason=f"POS 交易 {transaction_id} 作廢退回：{reason}",
            expires_at=expires,
            user=_staff_user(actor),
            store_id=spent.store_id,
            api_key_id=actor.api_key.pk if actor.api_key is not None else None,
        )
        if entry is not None:
            audit.record(
                actor,
                "points.reversed_at_till",
                customer,
                points=-spent.delta,
                transaction_id=transaction_id,
                reason=reason,
            )
    if entry is None:  # a concurrent call gave them back first
        entry = PointsEntry.objects.get(brand_id=customer.brand_id, idempotency_key=key)
        return TillPoints(entry, False, -spent.delta * program.point_value, account_for(customer).balance)
    return TillPoints(entry, True, -spent.delta * program.point_value, account_for(customer).balance)


# --- the sale arrives as an order ----------------------------------------------------------------


def link_till_sale(order) -> None:
    """Tie what the till redeemed under the order's sale id (its external_id) to the order, so that
    cancelling the order gives the coupon use and the points back."""
    sale = order.external_id
    CouponRedemption.objects.filter(brand_id=order.brand_id, transaction_id=sale, order__isnull=True).update(
        order=order
    )
    PointsEntry.objects.filter(
        brand_id=order.brand_id,
        idempotency_key__in=[_redeem_key(sale), _restore_key(sale)],
        order__isnull=True,
    ).update(order=order)


def link_till_sales(orders: Sequence[_Sale]) -> None:
    """link_till_sale for many orders of one brand at once (a batch of recorded orders): a few
    reads, and writes only where the till redeemed something. Two orders with one sale id: the
    first takes it, as one after the other would."""
    if not orders:
        return
    brand_id = orders[0].brand_id
    first: dict[str, _Sale] = {}
    for order in orders:
        first.setdefault(order.external_id, order)
    hits: dict[int, list[int]] = defaultdict(list)
    for pk, sale in CouponRedemption.objects.filter(
        brand_id=brand_id, transaction_id__in=list(first), order__isnull=True
    ).values_list("pk", "transaction_id"):
        hits[first[str(sale)].pk].append(pk)
    for order_id, pks in hits.items():
        CouponRedemption.objects.filter(pk__in=pks).update(order_id=order_id)
    keys = {_redeem_key(sale): sale for sale in first} | {_restore_key(sale): sale for sale in first}
    entries: dict[int, list[int]] = defaultdict(list)
    for pk, key in PointsEntry.objects.filter(
        brand_id=brand_id, idempotency_key__in=list(keys), order__isnull=True
    ).values_list("pk", "idempotency_key"):
        entries[first[keys[str(key)]].pk].append(pk)
    for order_id, pks in entries.items():
        PointsEntry.objects.filter(pk__in=pks).update(order_id=order_id)
