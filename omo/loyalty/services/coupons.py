"""Coupons: a code quoted on a cart and redeemed once per order (released on cancellation);
coupons created, shared codes added, single-use codes issued to customers.

A code's uses are counted with a conditional UPDATE (`times_used < max_uses`), as points are, so a
single-use code is redeemed at most once under any concurrency.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.core.money import format_money
from omo.customers.models import Customer
from omo.loyalty.models import Coupon, CouponCode, CouponRedemption
from omo.loyalty.services.errors import CouponError, LoyaltyError


@dataclass(frozen=True)
class CouponQuote:
    code: CouponCode
    discount: int
    free_shipping: bool


def _find_code(brand: Brand | int, code: str) -> CouponCode:
    brand_id = brand if isinstance(brand, int) else brand.pk
    found = (
        CouponCode.objects.select_related("coupon")
        .filter(brand_id=brand_id, code__iexact=code.strip())
        .first()
    )
    if found is None:
        if CouponCode.objects.filter(code__iexact=code.strip()).exclude(brand_id=brand_id).exists():
            # Which brand it belongs to is not told, only that it is not this brand's.
            raise CouponError(
                gettext("優惠碼 %(code)s 不是本品牌的優惠碼") % {"code": code},
                code="coupon_other_brand",
            )
        raise CouponError(gettext("優惠碼 %(code)s 不存在") % {"code": code}, code="coupon_unknown")
    return found


def quote_coupon(
    brand: Brand | int,
    code: str,
    *,
    subtotal: int,
    shipping: int,
    customer: Customer | None = None,
    now: dt.datetime | None = None,
) -> CouponQuote:
    """What a code is worth on this cart, or CouponError saying why it cannot be used."""
    now = now or timezone.now()
    found = _find_code(brand, code)
    coupon = found.coupon
    if not coupon.is_active:
        raise CouponError(gettext("優惠碼 %(code)s 已停用") % {"code": found.code}, code="coupon_inactive")
    if coupon.starts_at and now < coupon.starts_at:
        raise CouponError(
            gettext("優惠碼 %(code)s 尚未開始") % {"code": found.code}, code="coupon_not_started"
        )
    if coupon.ends_at and now >= coupon.ends_at:
        raise CouponError(gettext("優惠碼 %(code)s 已過期") % {"code": found.code}, code="coupon_expired")
    if found.customer_id is not None and (customer is None or customer.pk != found.customer_id):
        raise CouponError(
            gettext("優惠碼 %(code)s 限本人使用") % {"code": found.code},
            code="coupon_other_customer",
        )
    if found.max_uses is not None and found.times_used >= found.max_uses:
        raise used_up(found)
    if subtotal < coupon.min_spend:
        raise CouponError(
            gettext("未達最低消費 %(min_spend)s") % {"min_spend": format_money(coupon.min_spend)},
            code="coupon_min_spend",
        )
    if coupon.kind == Coupon.Kind.AMOUNT_OFF:
        return CouponQuote(found, min(subtotal, coupon.value), False)
    if coupon.kind == Coupon.Kind.PERCENT_OFF:
        return CouponQuote(found, subtotal * coupon.value // 100, False)
    return CouponQuote(found, 0, True)


def redeem_coupon(quote: CouponQuote, *, order, amount: int) -> CouponRedemption:
    """Use the code once for this order; CouponError when a concurrent order took the last use."""
    code = quote.code
    taken = (
        CouponCode.objects.filter(pk=code.pk)
        .filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")))
        .update(times_used=F("times_used") + 1)
    )
    if not taken:
        raise used_up(code)
    redemption = CouponRedemption.objects.create(
        brand_id=code.brand_id, code=code, order=order, customer=order.customer, amount=amount
    )
    events.publish("coupon.redeemed", brand_id=code.brand_id, redemption_id=redemption.pk)
    return redemption


def used_up(code: CouponCode) -> CouponError:
    return CouponError(
        gettext("優惠碼 %(code)s 已被使用完畢") % {"code": code.code},
        code="coupon_used",
        status=409,
    )


def give_back_use(code_id: int) -> None:
    CouponCode.objects.filter(pk=code_id, times_used__gt=0).update(times_used=F("times_used") - 1)


def release_coupon(order) -> None:
    """A cancelled order gives its code's use back. A till sale's redemption is kept, marked
    reversed (once, even when the till voided it first); a checkout's is deleted."""
    redemption = CouponRedemption.objects.filter(order=order).first()
    if redemption is None:
        return
    if redemption.transaction_id is not None:
        reversed_now = CouponRedemption.objects.filter(pk=redemption.pk, reversed_at__isnull=True).update(
            reversed_at=timezone.now(), reverse_reason="訂單取消 / order cancelled"
        )
        if reversed_now:
            give_back_use(redemption.code_id)
        return
    give_back_use(redemption.code_id)
    redemption.delete()


@transaction.atomic
def create_coupon(
    brand: Brand,
    *,
    actor: Actor,
    name: str,
    kind: str,
    value: int = 0,
    min_spend: int = 0,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> Coupon:
    if kind not in Coupon.Kind.values:
        raise LoyaltyError("kind", f"must be one of {', '.join(Coupon.Kind.values)}")
    if value < 0:
        raise LoyaltyError("value", "must not be negative")
    if kind == Coupon.Kind.PERCENT_OFF and not 0 < value <= 100:
        raise LoyaltyError("value", "a percentage must be between 1 and 100")
    if kind == Coupon.Kind.AMOUNT_OFF and value <= 0:
        raise LoyaltyError("value", "an amount-off coupon needs a positive value")
    if min_spend < 0:
        raise LoyaltyError("min_spend", "must not be negative")
    if starts_at and ends_at and ends_at <= starts_at:
        raise LoyaltyError("ends_at", "must be after starts_at")
    coupon = Coupon.objects.create(
        brand=brand,
        name=name,
        kind=kind,
        value=value,
        min_spend=min_spend,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    audit.record(actor, "coupon.created", coupon, name=name, kind=kind, value=value)
    return coupon


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud and typed


def _random_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


@transaction.atomic
def add_shared_code(coupon: Coupon, *, code: str, max_uses: int | None, actor: Actor) -> CouponCode:
    code = code.strip().upper()
    if not code:
        raise LoyaltyError("code", "is required")
    if CouponCode.objects.filter(brand_id=coupon.brand_id, code__iexact=code).exists():
        raise LoyaltyError("code", f"{code} already exists", status=409)
    created = CouponCode.objects.create(brand_id=coupon.brand_id, coupon=coupon, code=code, max_uses=max_uses)
    audit.record(actor, "coupon.code_added", created, code=code, max_uses=max_uses)
    return created


@transaction.atomic
def issue_codes(
    coupon: Coupon, customers: Iterable[Customer], *, actor: Actor | None, prefix: str = ""
) -> list[CouponCode]:
    """One single-use code per customer."""
    codes = [
        CouponCode(
            brand_id=coupon.brand_id, coupon=coupon, code=_random_code(prefix), customer=customer, max_uses=1
        )
        for customer in customers
    ]
    CouponCode.objects.bulk_create(codes)
    if actor is not None:
        audit.record(actor, "coupon.codes_issued", coupon, count=len(codes))
    issued = [code.pk for code in codes if code.customer_id is not None]
    if issued:
        events.publish("coupons.issued", brand_id=coupon.brand_id, code_ids=issued)
    return codes
