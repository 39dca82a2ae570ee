"""REST endpoints for loyalty: balance and ledger, manual adjustment, tiers, coupons and codes."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.core.api import ApiError, ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.models import Brand
from omo.customers.api import customer_for
from omo.customers.selectors import visible_customers
from omo.loyalty import selectors, services
from omo.loyalty.models import Coupon, LoyaltyAccount, PointsEntry, Tier
from omo.loyalty.services import rules as loyalty_rules

router = Router(tags=["loyalty"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_ISSUE = 1000


class TierOut(Schema):
    id: int
    name: str
    name_en: str
    threshold: int = Field(..., description="rolling spend in minor units")
    currency: str
    earn_multiplier_percent: int


class LoyaltyOut(Schema):
    customer_id: int
    balance: int
    lifetime_earned: int
    rolling_spend: int
    currency: str
    point_value: int = Field(..., description="minor units one point is worth")
    tier: TierOut | None


class PointsEntryOut(Schema):
    id: int
    delta: int
    kind: str
    order_id: int | None
    reason: str
    expires_at: dt.datetime | None
    actor_id: int | None
    created_at: dt.datetime


class PointsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[PointsEntryOut]


class AdjustIn(Schema):
    delta: int = Field(..., description="points added (positive) or taken (negative); not zero")
    reason: str = Field(..., min_length=1, max_length=250)


class CouponIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    kind: Coupon.Kind
    value: int = Field(0, ge=0, description="minor units (amount_off) or percent (percent_off)")
    min_spend: int = Field(0, ge=0, description="minor units")
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


class CouponOut(Schema):
    id: int
    name: str
    kind: str
    value: int
    min_spend: int
    currency: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    is_active: bool
    created_at: dt.datetime


class CouponPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CouponOut]


class SharedCodeIn(Schema):
    code: str = Field(..., min_length=1, max_length=60)
    max_uses: int | None = Field(None, ge=1, description="empty = no cap")


class IssueIn(Schema):
    customer_ids: list[int] = Field(..., min_length=1, max_length=MAX_ISSUE)
    prefix: str = Field("", max_length=20)


class CodeOut(Schema):
    id: int
    coupon_id: int
    code: str
    customer_id: int | None
    max_uses: int | None
    times_used: int
    created_at: dt.datetime


class CodePage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CodeOut]


def _tier_out(tier: Tier | None, currency: str) -> dict | None:
    if tier is None:
        return None
    return {
        "id": tier.pk,
        "name": tier.name,
        "name_en": tier.name_en,
        "threshold": tier.threshold,
        "currency": currency,
        "earn_multiplier_percent": tier.earn_multiplier_percent,
    }


def _coupon_out(coupon: Coupon) -> Coupon:
    coupon.currency = coupon.brand.currency  # type: ignore[attr-defined]
    return coupon


def _coupon(request: HttpRequest, coupon_id: int) -> Coupon:
    actor = actor_of(request)
    coupon = get_or_404(
        selectors.visible_coupons(actor).select_related("brand"), f"coupon {coupon_id}", pk=coupon_id
    )
    return _coupon_out(coupon)


# --- points -----------------------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/loyalty", auth=allow("loyalty.read"), response={200: LoyaltyOut, **ERRORS}
)
def get_loyalty(request: HttpRequest, customer_id: int):
    """Points balance, tier and the rolling spend the tier is based on."""
    actor = actor_of(request)
    customer = customer_for(actor, customer_id)
    account = LoyaltyAccount.objects.filter(customer=customer).select_related("tier").first()
    program = services.program_for(actor.brand)
    currency = actor.brand.currency
    return {
        "customer_id": customer.pk,
        "balance": account.balance if account else 0,
        "lifetime_earned": account.lifetime_earned if account else 0,
        "rolling_spend": account.rolling_spend if account else 0,
        "currency": currency,
        "point_value": program.point_value,
        "tier": _tier_out(account.tier if account else None, currency),
    }


@router.get(
    "/customers/{customer_id}/points", auth=allow("loyalty.read"), response={200: PointsPage, **ERRORS}
)
def list_points(request: HttpRequest, customer_id: int, paging: Query[PageParams]):
    """The points ledger, newest first."""
    customer = customer_for(actor_of(request), customer_id)
    entries = PointsEntry.objects.filter(brand_id=customer.brand_id, customer=customer).order_by(
        "-created_at", "-id"
    )
    return page(entries, paging)


@router.post(
    "/customers/{customer_id}/points", auth=allow("loyalty.adjust"), response={201: PointsEntryOut, **ERRORS}
)
def adjust_points(request: HttpRequest, customer_id: int, data: AdjustIn):
    """A manual adjustment with a reason (audited). Taking more than the balance is a 409."""
    actor = actor_of(request)
    entry = services.adjust_points(
        customer_for(actor, customer_id), data.delta, reason=data.reason, actor=actor
    )
    return Status(201, entry)


# --- tiers ------------------------------------------------------------------------------------


@router.get("/tiers", auth=allow("loyalty.read"), response={200: list[TierOut], **ERRORS})
def list_tiers(request: HttpRequest):
    actor = actor_of(request)
    return [_tier_out(tier, actor.brand.currency) for tier in selectors.visible_tiers(actor)]


# --- coupons ----------------------------------------------------------------------------------


@router.get("/coupons", auth=allow("loyalty.read"), response={200: CouponPage, **ERRORS})
def list_coupons(request: HttpRequest, paging: Query[PageParams]):
    coupons = selectors.visible_coupons(actor_of(request)).select_related("brand").order_by("-id")
    return page(coupons, paging, _coupon_out)


@router.post("/coupons", auth=allow("coupons.write"), response={201: CouponOut, **ERRORS})
def create_coupon(request: HttpRequest, data: CouponIn):
    actor = actor_of(request)
    coupon = services.create_coupon(actor.brand, actor=actor, **data.model_dump())
    return Status(201, _coupon_out(coupon))


@router.get("/coupons/{coupon_id}", auth=allow("loyalty.read"), response={200: CouponOut, **ERRORS})
def get_coupon(request: HttpRequest, coupon_id: int):
    return _coupon(request, coupon_id)


@router.get("/coupons/{coupon_id}/codes", auth=allow("loyalty.read"), response={200: CodePage, **ERRORS})
def list_codes(request: HttpRequest, coupon_id: int, paging: Query[PageParams]):
    coupon = _coupon(request, coupon_id)
    return page(
        selectors.visible_coupon_codes(actor_of(request)).filter(coupon=coupon).order_by("id"), paging
    )


@router.post("/coupons/{coupon_id}/codes", auth=allow("coupons.write"), response={201: CodeOut, **ERRORS})
def add_shared_code(request: HttpRequest, coupon_id: int, data: SharedCodeIn):
    """A code anyone may type, optionally capped (e.g. SPRING500 for the first 100 orders)."""
    actor = actor_of(request)
    code = services.add_shared_code(
        _coupon(request, coupon_id), code=data.code, max_uses=data.max_uses, actor=actor
    )
    return Status(201, code)


@router.post(
    "/coupons/{coupon_id}/codes/issue", auth=allow("coupons.write"), response={201: list[CodeOut], **ERRORS}
)
def issue_codes(request: HttpRequest, coupon_id: int, data: IssueIn):
    """One single-use code per customer (up to 1,000 per call)."""
    actor = actor_of(request)
    coupon = _coupon(request, coupon_id)
    wanted = list(dict.fromkeys(data.customer_ids))
    position = {customer_id: index for index, customer_id in enumerate(wanted)}
    customers = sorted(
        visible_customers(actor).filter(pk__in=wanted), key=lambda customer: position[customer.pk]
    )
    missing = sorted(set(wanted) - {customer.pk for customer in customers})
    if missing:
        raise ApiError(422, "invalid", f"no customers {missing}", field="customer_ids")
    return Status(
        201, services.issue_codes(coupon, customers, actor=actor, prefix=data.prefix.strip().upper())
    )


# --- settings: points rules and tiers -----------------------------------------------------------


class ProgramOut(Schema):
    earn_points: int = Field(..., description="points earned per earn_per_amount paid")
    earn_per_amount: int = Field(..., description="minor units paid per earn_points")
    point_value: int = Field(..., description="minor units one point is worth when redeemed")
    max_redeem_percent: int = Field(..., description="at most this percent of a subtotal paid in points")
    expiry_months: int = Field(..., description="months points live; 0 = never expire")
    tier_window_days: int = Field(..., description="days of spend a tier is based on")
    currency: str
    tiers: list[TierOut]


class ProgramPatch(Schema):
    earn_points: int | None = Field(None, description="1–1000")
    earn_per_amount: int | None = Field(None, description="minor units, 1 or more")
    point_value: int | None = Field(None, description="minor units, 0 or more")
    max_redeem_percent: int | None = Field(None, description="0–100")
    expiry_months: int | None = Field(None, description="0–120; 0 = never expire")
    tier_window_days: int | None = Field(None, description="1–1095")


class TierIn(Schema):
    name: str = Field(..., description="zh-Hant name, e.g. 金卡; unique per brand")
    name_en: str = ""
    threshold: int = Field(..., description="rolling spend in minor units; 0 or more, unique per brand")
    earn_multiplier_percent: int = Field(100, description="0–1000; never below a lower tier's")


class TierPatch(Schema):
    name: str | None = None
    name_en: str | None = None
    threshold: int | None = None
    earn_multiplier_percent: int | None = None


def _program_out(actor_brand: Brand) -> dict:
    program = services.program_for(actor_brand)
    return {
        **{name: getattr(program, name) for name in loyalty_rules.PROGRAM_LIMITS},
        "currency": actor_brand.currency,
        "tiers": [_tier_out(tier, actor_brand.currency) for tier in Tier.objects.filter(brand=actor_brand)],
    }


def _tier_of(request: HttpRequest, tier_id: int) -> Tier:
    return get_or_404(selectors.visible_tiers(actor_of(request)), f"tier {tier_id}", pk=tier_id)


@router.get("/settings/loyalty", auth=allow("rules.read"), response={200: ProgramOut, **ERRORS})
def get_loyalty_rules(request: HttpRequest):
    """Points rules (the defaults when never set) and the tiers, lowest threshold first."""
    return _program_out(actor_of(request).brand)


@router.patch("/settings/loyalty", auth=allow("rules.write"), response={200: ProgramOut, **ERRORS})
def update_loyalty_rules(request: HttpRequest, data: ProgramPatch):
    """Change any points rule (audited as loyalty_program.changed)."""
    actor = actor_of(request)
    given = data.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None:
            raise ApiError(422, "invalid", f"{name} may not be null", field=name)
    loyalty_rules.update_program(actor.brand, actor=actor, **given)
    return _program_out(actor.brand)


@router.post("/settings/loyalty/tiers", auth=allow("rules.write"), response={201: TierOut, **ERRORS})
def create_tier(request: HttpRequest, data: TierIn):
    """A new tier (audited as tier.created)."""
    actor = actor_of(request)
    tier = loyalty_rules.create_tier(actor.brand, actor=actor, **data.model_dump())
    return Status(201, _tier_out(tier, actor.brand.currency))


@router.patch(
    "/settings/loyalty/tiers/{tier_id}", auth=allow("rules.write"), response={200: TierOut, **ERRORS}
)
def update_tier(request: HttpRequest, tier_id: int, data: TierPatch):
    """Change a tier (audited as tier.changed)."""
    actor = actor_of(request)
    tier = loyalty_rules.update_tier(
        _tier_of(request, tier_id), actor=actor, **data.model_dump(exclude_unset=True)
    )
    return _tier_out(tier, actor.brand.currency)


@router.delete("/settings/loyalty/tiers/{tier_id}", auth=allow("rules.write"), response={204: None, **ERRORS})
def delete_tier(request: HttpRequest, tier_id: int):
    """Delete a tier (audited as tier.deleted); its members have no tier until their next recompute."""
    actor = actor_of(request)
    loyalty_rules.delete_tier(_tier_of(request, tier_id), actor=actor)
    return Status(204, None)
