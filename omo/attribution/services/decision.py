"""The attribution decision for one order, from facts only (no database): POS staff id > clerk coupon
code > a clerk's link clicked in the window > the bound clerk, with the reason in words."""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from omo.attribution import links
from omo.attribution.models import (
    Attribution,
    AttributionSettings,
    CommissionRule,
)
from omo.binding.models import ClerkCode
from omo.commerce.models import SalesChannel
from omo.core.models import Brand
from omo.staff.models import User

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# The order the rules are tried in when a brand has not set its own (DESIGN.md §5).
DEFAULT_PRECEDENCE: tuple[str, ...] = (Rule.POS_STAFF, Rule.CLERK_COUPON, Rule.LINK_CLICK, Rule.BOUND_CLERK)


def effective_precedence(stored: Sequence[str] | None) -> tuple[str, ...]:
    """The brand's stored order when it names each rule once, else the default order."""
    if stored and sorted(stored) == sorted(DEFAULT_PRECEDENCE):
        return tuple(str(rule) for rule in stored)
    return DEFAULT_PRECEDENCE


# Link-preview fetchers open links to draw a preview; they are not the customer.


@dataclass(frozen=True)
class ClerkInfo:
    id: int
    name: str
    store_id: int | None
    employee_code: str


@dataclass
class BrandContext:
    """What every decision of one brand needs, loaded once (a handful of queries)."""

    brand_id: int
    window: dt.timedelta
    window_days: int
    credit_bound_clerk: bool
    zone: ZoneInfo
    clerks: dict[int, ClerkInfo]
    coupon_owner: dict[str, int]  # upper-case clerk code -> clerk id
    rules: list[CommissionRule] = field(default_factory=list)
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE

    def clerk_of_coupon(self, code: str) -> tuple[int, str] | None:
        value = (code or "").strip().upper()
        if not value:
            return None
        if value in self.coupon_owner:
            return self.coupon_owner[value], value
        head = value.split("-", 1)[0]
        if head != value and head in self.coupon_owner:
            return self.coupon_owner[head], value
        return None


def brand_context(brand: Brand | int) -> BrandContext:
    brand_id = brand if isinstance(brand, int) else brand.pk
    brand_obj = brand if isinstance(brand, Brand) else Brand.objects.get(pk=brand_id)
    conf = AttributionSettings.objects.filter(brand_id=brand_id).first()
    window_days = conf.window_days if conf else 30
    clerks = {
        row["id"]: ClerkInfo(
            row["id"], row["display_name"] or row["username"], row["store_id"], row["employee_code"]
        )
        for row in User.objects.filter(brand_id=brand_id).values(
            "id", "display_name", "username", "store_id", "employee_code"
        )
    }
    coupon_owner = {
        code.upper(): clerk_id
        for code, clerk_id in ClerkCode.objects.filter(brand_id=brand_id).values_list("code", "clerk_id")
    }
    try:
        zone = ZoneInfo(brand_obj.time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Asia/Taipei")
    rules = list(CommissionRule.objects.filter(brand_id=brand_id).order_by("id"))
    return BrandContext(
        brand_id,
        dt.timedelta(days=window_days),
        window_days,
        bool(conf and conf.credit_bound_clerk),
        zone,
        clerks,
        coupon_owner,
        rules,
        effective_precedence(conf.precedence if conf else None),
    )


@dataclass(frozen=True)
class OrderFacts:
    id: int
    customer_id: int | None
    staff_id: int | None
    sales_channel: str
    coupon_code: str
    ref: str
    placed_at: dt.datetime
    store_id: int | None
    subtotal: int
    discount_total: int
    status: str
    discounts: Any = ()

    FIELDS = (
        "id",
        "customer_id",
        "staff_id",
        "sales_channel",
        "coupon_code",
        "ref",
        "placed_at",
        "store_id",
        "subtotal",
        "discount_total",
        "status",
        "discounts",
    )

    def codes(self) -> list[str]:
        """The coupon code the shop applied, then any codes an order API sent with its discounts."""
        found = [self.coupon_code] if self.coupon_code else []
        for discount in self.discounts or ():
            code = discount.get("code") if isinstance(discount, dict) else None
            if code and code not in found:
                found.append(str(code))
        return found


@dataclass(frozen=True)
class ClickFact:
    clicked_at: dt.datetime
    id: int
    clerk_id: int | None
    link_id: int


@dataclass(frozen=True)
class BindingFact:
    clerk_id: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    store_id: int | None


@dataclass(frozen=True)
class Decision:
    rule: str
    clerk_id: int | None
    store_id: int | None
    click_id: int | None
    reason_zh: str
    reason_en: str


def _zh_date(moment: dt.datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.month}/{local.day}"


def _en_date(moment: dt.datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local.day} {local.strftime('%b')}"


def _days_before(earlier: dt.datetime, later: dt.datetime, zone: ZoneInfo) -> int:
    return (later.astimezone(zone).date() - earlier.astimezone(zone).date()).days


def _ago(days: int) -> tuple[str, str]:
    if days <= 0:
        return "當天", "the same day"
    return f"{days} 天前", f"{days} day{'s' if days != 1 else ''} before"


def _last_click(clicks: Sequence[ClickFact], since: dt.datetime, until: dt.datetime) -> ClickFact | None:
    """The latest click in [since, until] of a list sorted by clicked_at."""
    index = bisect.bisect_right([c.clicked_at for c in clicks], until)
    for click in reversed(clicks[:index]):
        if click.clicked_at < since:
            return None
        if click.clerk_id is not None:
            return click
    return None


def _by_pos_staff(
    order: OrderFacts,
    ctx: BrandContext,
    customer_clicks: Sequence[ClickFact],
    ref_clicks: Sequence[ClickFact],
    ref: links.Ref | None,
    bindings: Sequence[BindingFact],
) -> Decision | None:
    """POS staff id: the person who rang the sale up in the store."""
    if order.sales_channel == SalesChannel.POS and order.staff_id in ctx.clerks:
        clerk = ctx.clerks[order.staff_id]
        code_zh = f"（員工編號 {clerk.employee_code}）" if clerk.employee_code else ""
        code_en = f" (staff id {clerk.employee_code})" if clerk.employee_code else ""
        first = ctx.precedence[0] == Rule.POS_STAFF
        first_zh = "優先歸屬" if first else "取得業績"
        first_en = "comes first" if first else "is credited"
        return Decision(
            Rule.POS_STAFF,
            clerk.id,
            order.store_id or clerk.store_id,
            None,
            f"門市 POS 訂單由{clerk.name}結帳{code_zh}，POS 銷售人員{first_zh}",
            f"In-store POS sale rung up by {clerk.name}{code_en}; the POS staff id {first_en}",
        )
    return None


def _by_clerk_coupon(
    order: OrderFacts,
    ctx: BrandContext,
    customer_clicks: Sequence[ClickFact],
    ref_clicks: Sequence[ClickFact],
    ref: links.Ref | None,
    bindings: Sequence[BindingFact],
) -> Decision | None:
    """A clerk's coupon code."""
    owner = next((hit for code in order.codes() if (hit := ctx.clerk_of_coupon(code)) is not None), None)
    if owner is not None and owner[0] in ctx.clerks:
        clerk = ctx.clerks[owner[0]]
        return Decision(
            Rule.CLERK_COUPON,
            clerk.id,
            clerk.store_id,
            None,
            f"訂單使用{clerk.name}的專屬優惠碼 {owner[1]}",
            f"The order used {clerk.name}'s clerk coupon code {owner[1]}",
        )
    return None


def _by_link_click(
    order: OrderFacts,
    ctx: BrandContext,
    customer_clicks: Sequence[ClickFact],
    ref_clicks: Sequence[ClickFact],
    ref: links.Ref | None,
    bindings: Sequence[BindingFact],
) -> Decision | None:
    """The last counted clerk link within the window: by customer identity or the order's ref."""
    zone = ctx.zone
    since = order.placed_at - ctx.window
    merged = sorted(
        {c.id: c for c in [*customer_clicks, *ref_clicks]}.values(), key=lambda c: (c.clicked_at, c.id)
    )
    click = _last_click(merged, since, order.placed_at)
    cart_ref = None
    if (
        ref is not None
        and ref.kind == "clerk"
        and ref.id in ctx.clerks
        and since <= ref.signed_at <= order.placed_at
    ):
        cart_ref = ref
    if cart_ref is not None and (click is None or cart_ref.signed_at >= click.clicked_at):
        clerk = ctx.clerks[cart_ref.id]
        zh_ago, en_ago = _ago(_days_before(cart_ref.signed_at, order.placed_at, zone))
        return Decision(
            Rule.LINK_CLICK,
            clerk.id,
            clerk.store_id,
            None,
            f"顧客透過{clerk.name}於 {_zh_date(cart_ref.signed_at, zone)} 傳送的購物車連結結帳（{zh_ago}），"
            f"{ctx.window_days} 天內最後一次導購連結",
            f"Customer checked out the cart {clerk.name} sent on {_en_date(cart_ref.signed_at, zone)} "
            f"({en_ago}), the last clerk link within {ctx.window_days} days",
        )
    if click is not None and click.clerk_id in ctx.clerks:
        clerk = ctx.clerks[click.clerk_id]
        zh_ago, en_ago = _ago(_days_before(click.clicked_at, order.placed_at, zone))
        return Decision(
            Rule.LINK_CLICK,
            clerk.id,
            clerk.store_id,
            click.id,
            f"顧客於 {_zh_date(click.clicked_at, zone)} 點擊{clerk.name}傳送的商品卡片（{zh_ago}），"
            f"{ctx.window_days} 天內最後一次導購點擊",
            f"Customer clicked {clerk.name}'s product card on {_en_date(click.clicked_at, zone)} "
            f"({en_ago}), the last clerk link within {ctx.window_days} days",
        )
    return None


def _by_bound_clerk(
    order: OrderFacts,
    ctx: BrandContext,
    customer_clicks: Sequence[ClickFact],
    ref_clicks: Sequence[ClickFact],
    ref: links.Ref | None,
    bindings: Sequence[BindingFact],
) -> Decision | None:
    """The clerk the customer was bound to when ordering, if the brand credits bound clerks."""
    zone = ctx.zone
    if ctx.credit_bound_clerk:
        for binding in bindings:
            if binding.started_at <= order.placed_at and (
                binding.ended_at is None or binding.ended_at > order.placed_at
            ):
                if binding.clerk_id in ctx.clerks:
                    clerk = ctx.clerks[binding.clerk_id]
                    local = binding.started_at.astimezone(zone)
                    return Decision(
                        Rule.BOUND_CLERK,
                        clerk.id,
                        binding.store_id or clerk.store_id,
                        None,
                        f"顧客自 {local:%Y/%m/%d} 綁定{clerk.name}，品牌設定由綁定店員取得業績",
                        f"Customer bound to {clerk.name} since {local.day} {local:%b %Y}; "
                        "the brand credits the bound clerk",
                    )
    return None


STEPS: dict[str, Callable[..., Decision | None]] = {
    Rule.POS_STAFF: _by_pos_staff,
    Rule.CLERK_COUPON: _by_clerk_coupon,
    Rule.LINK_CLICK: _by_link_click,
    Rule.BOUND_CLERK: _by_bound_clerk,
}


def decide(
    order: OrderFacts,
    ctx: BrandContext,
    *,
    customer_clicks: Sequence[ClickFact] = (),
    ref_clicks: Sequence[ClickFact] = (),
    ref: links.Ref | None = None,
    bindings: Sequence[BindingFact] = (),
) -> Decision:
    """The attribution of one order: the brand's rules tried in its order (`ctx.precedence`), the first
    that applies decides, with the reason in words."""
    for rule in ctx.precedence:
        decided = STEPS[rule](order, ctx, customer_clicks, ref_clicks, ref, bindings)
        if decided is not None:
            return decided
    return Decision(
        Rule.NONE,
        None,
        None,
        None,
        f"無店員歸屬：沒有 POS 銷售人員、店員優惠碼或 {ctx.window_days} 天內的導購點擊",
        f"No clerk: no POS staff id, clerk coupon code or clerk link click within {ctx.window_days} days",
    )
