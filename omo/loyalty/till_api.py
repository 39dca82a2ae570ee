"""REST endpoints for a store's till (POS): check and redeem coupon codes, spend points, and reverse
both for a voided sale. docs/pos.md shows them with curl.

A till uses a store manager's API key of its store (permission `pos.sell`): the store is the key's
own, and it reaches every member of the brand by customer id, phone or member number. HQ keys
name the store with `store_code`. Every refusal answers `{detail, code, field}` with a sentence.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Header, Router, Schema, Status
from pydantic import Field, model_validator

from omo.core.api import ApiError, ErrorOut, actor_of, allow, get_or_404
from omo.core.audit import Actor
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.customers.selectors import till_customers
from omo.loyalty import services
from omo.loyalty.models import CouponRedemption
from omo.staff.models import Store, User

router = Router(tags=["till (POS)"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=120,
    description="the POS sale id; the same as `transaction_id` when both are sent",
)


# --- shapes -----------------------------------------------------------------------------------


class BasketLineIn(Schema):
    sku: str = Field("", max_length=64)
    quantity: int = Field(..., gt=0, le=100000)
    unit_price: int = Field(..., ge=0, description="minor units")
    discount: int = Field(0, ge=0, description="minor units")


class CustomerFields(Schema):
    customer_id: int | None = Field(None, description="the member, by omo customer id")
    phone: str = Field("", max_length=40, description="or by the phone number the member gives")
    member_number: str = Field("", max_length=40, description="or by member number")


class CouponCheckIn(CustomerFields):
    code: str = Field(..., min_length=1, max_length=60)
    store_code: str = Field("", max_length=30, description="the till's store; a store key's own by default")
    basket_total: int | None = Field(None, ge=0, description="minor units, before this coupon")
    lines: list[BasketLineIn] = Field(
        default_factory=list, max_length=500, description="or the basket's lines (their total is used)"
    )

    @model_validator(mode="after")
    def _basket(self) -> CouponCheckIn:
        if self.basket_total is None and not self.lines:
            raise ValueError("send basket_total or lines")
        return self

    def subtotal(self) -> int:
        if self.basket_total is not None:
            return self.basket_total
        return sum(line.quantity * line.unit_price - line.discount for line in self.lines)


STAFF_CODE = Field(
    "", max_length=40, description="the employee code of the staff member at the till (optional)"
)


class CouponRedeemIn(CouponCheckIn):
    transaction_id: str = Field("", max_length=120, description="the POS sale id (or Idempotency-Key)")
    staff_code: str = STAFF_CODE


class CouponCheckOut(Schema):
    valid: bool
    code: str
    reason: str = Field("", description="why it cannot be used, as a sentence (when not valid)")
    error_code: str = Field(
        "",
        description="coupon_unknown | coupon_other_brand | coupon_inactive | coupon_not_started | "
        "coupon_expired | coupon_used | coupon_other_customer | coupon_min_spend",
    )
    coupon_id: int | None = None
    coupon_name: str = ""
    kind: str = ""
    discount: int = Field(0, description="minor units taken off the basket")
    free_shipping: bool = False
    currency: str
    customer_id: int | None = None


class RedemptionOut(Schema):
    id: int
    code: str
    coupon_id: int
    coupon_name: str
    discount: int
    currency: str
    transaction_id: str
    store_code: str | None
    customer_id: int | None
    order_id: int | None
    status: str = Field(..., description="redeemed | reversed")
    reversed_at: dt.datetime | None
    created_at: dt.datetime


class ReverseIn(Schema):
    transaction_id: str = Field("", max_length=120, description="the voided POS sale id (or Idempotency-Key)")
    reason: str = Field("", max_length=200)


class PointsRedeemIn(Schema):
    points: int = Field(..., gt=0, le=10**9)
    transaction_id: str = Field("", max_length=120, description="the POS sale id (or Idempotency-Key)")
    store_code: str = Field("", max_length=30)
    basket_total: int | None = Field(
        None, ge=0, description="minor units; when sent, the program's share limit is checked"
    )
    staff_code: str = STAFF_CODE


class PointsTillOut(Schema):
    entry_id: int
    customer_id: int
    transaction_id: str
    points: int = Field(..., description="points taken (redeem) or given back (reverse)")
    discount: int = Field(..., description="minor units the points are worth")
    currency: str
    balance: int


# --- helpers ----------------------------------------------------------------------------------


def _store(actor: Actor, store_code: str) -> Store | None:
    """The till's store: a store key's own (another store's code is refused), or the one named."""
    code = (store_code or "").strip()
    if actor.store_id:
        own = Store.objects.filter(brand=actor.brand, pk=actor.store_id).first()
        if own is None:
            raise ApiError(403, "forbidden", gettext("這把金鑰的門市已不存在"))
        if code and code != own.code:
            raise ApiError(
                403,
                "store_mismatch",
                gettext("這把金鑰只能用於門市 %(code)s") % {"code": own.code},
                field="store_code",
            )
        return own
    if not code:
        return None
    found = Store.objects.filter(brand=actor.brand, code=code).first()
    if found is None:
        raise ApiError(
            422, "invalid", gettext("沒有代碼為 %(code)s 的門市") % {"code": code}, field="store_code"
        )
    return found


def _staff(actor: Actor, staff_code: str) -> User | None:
    """The staff member at the till, by employee code; an unknown code is refused by name."""
    code = (staff_code or "").strip()
    if not code:
        return None
    found = User.objects.filter(brand=actor.brand, employee_code=code).first()
    if found is None:
        raise ApiError(
            422,
            "invalid",
            gettext("沒有員工編號為 %(code)s 的員工") % {"code": code},
            field="staff_code",
        )
    return found


def _customer(actor: Actor, data: CustomerFields) -> Customer | None:
    if data.customer_id is not None:
        return get_or_404(till_customers(actor), f"customer {data.customer_id}", pk=data.customer_id)
    phone = data.phone.strip()
    member_number = data.member_number.strip()
    if not phone and not member_number:
        return None
    try:
        clean_phone, _ = customer_services.clean_contact(actor.brand, phone=phone)
    except customer_services.CustomerError as exc:
        raise ApiError(422, "invalid", exc.message, field="phone") from exc
    found = customer_services.find_customer(actor.brand, phone=clean_phone, member_number=member_number)
    if found is None:
        raise ApiError(
            404,
            "customer_unknown",
            gettext("查無此會員"),
            field="customer",
        )
    return found


def _sale_id(body_value: str, header_value: str | None) -> str:
    body_value = (body_value or "").strip()
    header_value = (header_value or "").strip()
    if body_value and header_value and body_value != header_value:
        raise ApiError(
            422,
            "invalid",
            gettext("transaction_id 與 Idempotency-Key 不同"),
            field="transaction_id",
        )
    return body_value or header_value


def _redemption_out(redemption: CouponRedemption, currency: str) -> dict:
    return {
        "id": redemption.pk,
        "code": redemption.code.code,
        "coupon_id": redemption.code.coupon_id,
        "coupon_name": redemption.code.coupon.name,
        "discount": redemption.amount,
        "currency": currency,
        "transaction_id": redemption.transaction_id or "",
        "store_code": redemption.store.code if redemption.store is not None else None,
        "customer_id": redemption.customer_id,
        "order_id": redemption.order_id,
        "status": "reversed" if redemption.reversed_at else "redeemed",
        "reversed_at": redemption.reversed_at,
        "created_at": redemption.created_at,
    }


def _fresh(redemption: CouponRedemption) -> CouponRedemption:
    return CouponRedemption.objects.select_related("code__coupon", "store").get(pk=redemption.pk)


def _points_out(result: services.TillPoints, transaction_id: str, currency: str) -> dict:
    return {
        "entry_id": result.entry.pk,
        "customer_id": result.entry.customer_id,
        "transaction_id": transaction_id,
        "points": abs(result.entry.delta),
        "discount": result.discount,
        "currency": currency,
        "balance": result.balance,
    }


# --- coupons ----------------------------------------------------------------------------------


@router.post("/coupons/validate", auth=allow("pos.sell"), response={200: CouponCheckOut, **ERRORS})
def validate_coupon(request: HttpRequest, data: CouponCheckIn):
    """Can this code be used on this basket, and what does it take off? Answers 200 with `valid`
    and, when not, the reason as a sentence and its `error_code`. Nothing is used up."""
    actor = actor_of(request)
    _store(actor, data.store_code)
    customer = _customer(actor, data)
    answer: dict[str, Any] = {
        "code": data.code.strip().upper(),
        "currency": actor.brand.currency,
        "customer_id": customer.pk if customer else None,
    }
    try:
        quote = services.check_coupon(actor.brand, data.code, subtotal=data.subtotal(), customer=customer)
    except services.CouponError as exc:
        return {**answer, "valid": False, "reason": exc.message, "error_code": exc.code}
    coupon = quote.code.coupon
    return {
        **answer,
        "valid": True,
        "code": quote.code.code,
        "coupon_id": coupon.pk,
        "coupon_name": coupon.name,
        "kind": coupon.kind,
        "discount": quote.discount,
        "free_shipping": quote.free_shipping,
    }


@router.post(
    "/coupons/redeem", auth=allow("pos.sell"), response={200: RedemptionOut, 201: RedemptionOut, **ERRORS}
)
def redeem_coupon(request: HttpRequest, data: CouponRedeemIn, idempotency_key: str | None = IDEMPOTENCY_KEY):
    """Use the code on a till sale: 201 the redemption; 200 with the same one when the sale id
    repeats (a retry). A code used up meanwhile answers 409 `coupon_used`; other refusals say why
    (`code` as in /coupons/validate). One coupon per sale."""
    actor = actor_of(request)
    store = _store(actor, data.store_code)
    staff = _staff(actor, data.staff_code)
    customer = _customer(actor, data)
    result = services.redeem_at_till(
        actor.brand,
        data.code,
        subtotal=data.subtotal(),
        customer=customer,
        transaction_id=_sale_id(data.transaction_id, idempotency_key),
        store_id=store.pk if store else None,
        actor=actor,
        staff=staff,
    )
    body = _redemption_out(_fresh(result.redemption), actor.brand.currency)
    return Status(201 if result.created else 200, body)


@router.post("/coupons/reverse", auth=allow("pos.sell"), response={200: RedemptionOut, **ERRORS})
def reverse_coupon(request: HttpRequest, data: ReverseIn, idempotency_key: str | None = IDEMPOTENCY_KEY):
    """A voided till sale gives its coupon use back (a single-use code can be used again). Repeats
    answer 200 with the reversed redemption; a sale without a coupon, or another store's sale (a
    store's key), is a 404."""
    actor = actor_of(request)
    transaction_id = _sale_id(data.transaction_id, idempotency_key)
    redemption = services.reverse_at_till(
        actor.brand, transaction_id, reason=data.reason, actor=actor, store_id=actor.store_id
    )
    return _redemption_out(_fresh(redemption), actor.brand.currency)


# --- points -----------------------------------------------------------------------------------


@router.post(
    "/customers/{customer_id}/points/redeem",
    auth=allow("pos.sell"),
    response={200: PointsTillOut, 201: PointsTillOut, **ERRORS},
)
def redeem_points(
    request: HttpRequest,
    customer_id: int,
    data: PointsRedeemIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Spend points on a till sale: 201 with the discount and the new balance; 200 with the same
    when the sale id repeats. 409 `insufficient_points` when the balance is short, 422
    `points_over_limit` beyond the program's share of `basket_total`."""
    actor = actor_of(request)
    store = _store(actor, data.store_code)
    staff = _staff(actor, data.staff_code)
    customer = get_or_404(till_customers(actor), f"customer {customer_id}", pk=customer_id)
    transaction_id = _sale_id(data.transaction_id, idempotency_key)
    result = services.redeem_points_at_till(
        customer,
        data.points,
        transaction_id=transaction_id,
        store_code=store.code if store else "",
        store_id=store.pk if store else None,
        basket_total=data.basket_total,
        actor=actor,
        staff=staff,
    )
    return Status(
        201 if result.created else 200, _points_out(result, transaction_id.strip(), actor.brand.currency)
    )


@router.post(
    "/customers/{customer_id}/points/reverse",
    auth=allow("pos.sell"),
    response={200: PointsTillOut, 201: PointsTillOut, **ERRORS},
)
def reverse_points(
    request: HttpRequest, customer_id: int, data: ReverseIn, idempotency_key: str | None = IDEMPOTENCY_KEY
):
    """A voided till sale gives its points back: 201 the first time, 200 on a repeat; a sale
    without points for this member, or another store's sale (a store's key), is a 404."""
    actor = actor_of(request)
    customer = get_or_404(till_customers(actor), f"customer {customer_id}", pk=customer_id)
    transaction_id = _sale_id(data.transaction_id, idempotency_key)
    result = services.reverse_points_at_till(
        customer, transaction_id, reason=data.reason, actor=actor, store_id=actor.store_id
    )
    return Status(
        201 if result.created else 200, _points_out(result, transaction_id.strip(), actor.brand.currency)
    )
