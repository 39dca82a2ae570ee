"""Attribution and commission verbs: tracked links and clicks, the per-order decision, the batch,
the commission ledger (sales and refund reversals).

Precedence (DESIGN.md §5): POS staff id > clerk coupon code > the customer's last counted clerk
link click in the window (matched by customer identity, and by the order's signed ref) > the
bound clerk (only when the brand turns it on; binding history at the order's time) > none.

One decision function (`decide`) serves both the per-order path (run after `order.recorded`
commits) and the batch (`attribute_orders`), so a re-run in bulk gives the same words as live.
Clerk coupon codes: a coupon code is a clerk's when it equals the clerk's ClerkCode.code, or
starts with that code followed by "-" (e.g. ``K7QX2M-1111``), case-insensitively; loyalty's
models stay untouched.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from omo.attribution import batch_sql, links
from omo.attribution.models import (
    Attribution,
    AttributionSettings,
    Click,
    CommissionEntry,
    CommissionRule,
    LinkIssue,
)
from omo.binding.models import Binding, ClerkCode
from omo.catalog.models import Product
from omo.commerce.models import Order, OrderLine, Refund, SalesChannel
from omo.core import events
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.staff.models import User

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.
PREVIEW_AGENTS = (
    "facebookexternalhit",
    "line/",
    "bot",
    "slackbot",
    "twitterbot",
    "whatsapp",
    "crawler",
    "spider",
    "preview",
    "embedly",
    "discordbot",
    "telegrambot",
    "skypeuripreview",
)
# LINE's in-app browser says "Line/13.x" too, but as part of a full browser UA; the preview
# fetcher sends a short UA without "Mozilla/5.0 (iPhone|Linux; Android" and "Safari"/"Mobile".
_IN_APP_BROWSER = re.compile(r"Mozilla/5\.0 \((iPhone|iPad|Linux; Android|Windows|Macintosh)", re.I)


class AttributionError(FieldError, ValueError):
    pass


# --- tracked links and clicks -------------------------------------------------------------------------


def product_path(brand: Brand, product: Product) -> str:
    return reverse("shop:product", kwargs={"brand_slug": brand.slug, "handle": product.handle})


def absolute(path: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}{path}"


def issue_link(
    brand: Brand,
    *,
    clerk: User | None,
    product: Product,
    customer: Customer | None = None,
    conversation_id: int | None = None,
    at: dt.datetime | None = None,
) -> LinkIssue:
    """One tracked link for one product; the token names this row (clerk, customer, conversation)."""
    if product.brand_id != brand.pk:
        raise AttributionError("product", "belongs to another brand", status=404)
    if customer is not None and customer.brand_id != brand.pk:
        raise AttributionError("customer", "belongs to another brand", status=404)
    if clerk is not None and clerk.brand_id != brand.pk:
        raise AttributionError("clerk", "belongs to another brand", status=404)
    return LinkIssue.objects.create(
        brand=brand,
        clerk=clerk,
        customer=customer,
        product=product,
        conversation_id=conversation_id,
        target=product_path(brand, product),
        issued_at=at or timezone.now(),
    )


def link_url(link: LinkIssue) -> str:
    """The absolute `/r/<token>` URL a card button opens."""
    return absolute(reverse("attribution:click", kwargs={"token": links.link_token(link.pk, link.brand_id)}))


def is_preview_agent(user_agent: str) -> bool:
    agent = (user_agent or "").strip()
    if not agent:
        return True  # people's browsers always send one; fetchers and scripts often do not
    lowered = agent.lower()
    if "facebookexternalhit" in lowered or "facebot" in lowered:
        return True
    if _IN_APP_BROWSER.search(agent) and "bot" not in lowered:
        return False  # a phone or desktop browser (LINE's in-app browser included)
    return any(marker in lowered for marker in PREVIEW_AGENTS)


@dataclass(frozen=True)
class ClickOutcome:
    click: Click
    redirect_to: str


def resolve_link(token: str) -> LinkIssue:
    """The LinkIssue a token names, or links.LinkInvalid / LinkExpired."""
    claim = links.read_link_token(token)
    link = LinkIssue.objects.select_related("brand").filter(pk=claim.link_id, brand_id=claim.brand_id).first()
    if link is None:
        raise links.LinkInvalid("no such link")
    return link


def safe_target(link: LinkIssue) -> str:
    """The link's target if it is inside the brand's shop, else the shop's home page.

    The target is written by us, but a row edited by hand must still never send a customer
    anywhere outside the brand's shop (no open redirect).
    """
    shop_home = reverse("shop:home", kwargs={"brand_slug": link.brand.slug})
    target = link.target or shop_home
    if not target.startswith(shop_home) or "//" in target or "\\" in target or "?" in target:
        return shop_home
    return target


def record_click(
    link: LinkIssue,
    *,
    user_agent: str = "",
    ip_address: str | None = None,
    session_key: str = "",
    at: dt.datetime | None = None,
) -> ClickOutcome:
    """Record a click (previews flagged, not counted) and say where to send the browser."""
    click = Click.objects.create(
        brand_id=link.brand_id,
        link=link,
        clerk_id=link.clerk_id,
        customer_id=link.customer_id,
        clicked_at=at or timezone.now(),
        is_preview=is_preview_agent(user_agent),
        user_agent=(user_agent or "")[:300],
        ip_address=ip_address or None,
        session_key=(session_key or "")[:64],
    )
    if not click.is_preview:
        events.publish("link.clicked", brand_id=link.brand_id, click_id=click.pk)
    # Signed refs are URL-safe (base64url and ":"), so they travel unescaped and read back as sent.
    target = f"{safe_target(link)}?ref={quote(links.link_ref(link.pk), safe=':')}"
    return ClickOutcome(click, target)


# --- the decision ---------------------------------------------------------------------------------------


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


def decide(
    order: OrderFacts,
    ctx: BrandContext,
    *,
    customer_clicks: Sequence[ClickFact] = (),
    ref_clicks: Sequence[ClickFact] = (),
    ref: links.Ref | None = None,
    bindings: Sequence[BindingFact] = (),
) -> Decision:
    """The attribution of one order, by the brand's precedence, with the reason in words."""
    zone = ctx.zone
    # 1. POS staff id: the person who rang the sale up in the store.
    if order.sales_channel == SalesChannel.POS and order.staff_id in ctx.clerks:
        clerk = ctx.clerks[order.staff_id]
        code_zh = f"（員工編號 {clerk.employee_code}）" if clerk.employee_code else ""
        code_en = f" (staff id {clerk.employee_code})" if clerk.employee_code else ""
        return Decision(
            Rule.POS_STAFF,
            clerk.id,
            order.store_id or clerk.store_id,
            None,
            f"門市 POS 訂單由{clerk.name}結帳{code_zh}，POS 銷售人員優先歸屬",
            f"In-store POS sale rung up by {clerk.name}{code_en}; the POS staff id comes first",
        )
    # 2. A clerk's coupon code.
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
    # 3. The last counted clerk link within the window: by customer identity or the order's ref.
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
    # 4. The clerk the customer was bound to when ordering, if the brand credits bound clerks.
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
    return Decision(
        Rule.NONE,
        None,
        None,
        None,
        f"無店員歸屬：沒有 POS 銷售人員、店員優惠碼或 {ctx.window_days} 天內的導購點擊",
        f"No clerk: no POS staff id, clerk coupon code or clerk link click within {ctx.window_days} days",
    )


# --- commission ----------------------------------------------------------------------------------------


def month_of(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    local = moment.astimezone(zone)
    return dt.date(local.year, local.month, 1)


def _specificity(rule: CommissionRule) -> int:
    return (2 if rule.category_id else 0) + (1 if rule.store_id else 0)


def rate_for(
    rules: Sequence[CommissionRule], *, category_id: int | None, store_id: int | None, on: dt.date
) -> int:
    """Basis points of the most specific rule in force: category+store > category > store > brand-wide.

    Ties (two rules equally specific) go to the one that started latest, then the newest row, so
    a new rate replaces an old one without editing it.
    """
    best: CommissionRule | None = None
    for rule in rules:
        if rule.category_id and rule.category_id != category_id:
            continue
        if rule.store_id and rule.store_id != store_id:
            continue
        if rule.starts_on > on or (rule.ends_on is not None and rule.ends_on < on):
            continue
        if best is None or (_specificity(rule), rule.starts_on, rule.pk) > (
            _specificity(best),
            best.starts_on,
            best.pk,
        ):
            best = rule
    return best.rate_bp if best else 0


def _round_div(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (money stays in integer minor units)."""
    if denominator == 0:
        return 0
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    quotient, remainder = divmod(abs(numerator), abs(denominator))
    if remainder * 2 >= abs(denominator):
        quotient += 1
    return sign * quotient


def commission_for(
    order: OrderFacts, lines: Iterable[tuple[int, int | None]], *, store_id: int | None, ctx: BrandContext
) -> tuple[int, int]:
    """(basis, amount) for an attributed order: each line at its category's rate, after order discounts.

    lines: (line total, product category id). Order-level discounts (coupons, points) are spread
    over the lines by their share; shipping and tax earn nothing.
    """
    on = order.placed_at.astimezone(ctx.zone).date()
    net = max(0, order.subtotal - order.discount_total)
    basis = amount = 0
    line_list = list(lines)
    if not line_list:
        line_list = [(order.subtotal, None)]
    for line_total, category_id in line_list:
        line_basis = _round_div(line_total * net, order.subtotal) if order.subtotal else 0
        basis += line_basis
        amount += _round_div(
            line_basis * rate_for(ctx.rules, category_id=category_id, store_id=store_id, on=on), 10000
        )
    return basis, amount


def _facts(order: Order) -> OrderFacts:
    return OrderFacts(
        order.pk,
        order.customer_id,
        order.staff_id,
        order.sales_channel,
        order.coupon_code,
        order.ref,
        order.placed_at,
        order.store_id,
        order.subtotal,
        order.discount_total,
        order.status,
        order.discounts,
    )


def _click_facts(queryset: QuerySet[Click]) -> list[ClickFact]:
    return [
        ClickFact(at, pk, clerk_id, link_id)
        for at, pk, clerk_id, link_id in queryset.values_list(
            "clicked_at", "id", "clerk_id", "link_id"
        ).order_by("clicked_at", "id")
    ]


def _counted_clicks(brand_id: int) -> QuerySet[Click]:
    return Click.objects.filter(brand_id=brand_id, is_preview=False, clerk_id__isnull=False)


def attribute_order(order: Order | int, *, ctx: BrandContext | None = None) -> Attribution:
    """Decide and store the attribution of one order, plus its commission entry. Idempotent."""
    if isinstance(order, int):
        order = Order.objects.get(pk=order)
    existing = Attribution.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    ctx = ctx or brand_context(order.brand_id)
    facts = _facts(order)
    since = facts.placed_at - ctx.window
    customer_clicks = (
        _click_facts(
            _counted_clicks(ctx.brand_id).filter(
                customer_id=facts.customer_id, clicked_at__range=(since, facts.placed_at)
            )
        )
        if facts.customer_id
        else []
    )
    ref = links.read_ref(facts.ref)
    ref_clicks = (
        _click_facts(
            _counted_clicks(ctx.brand_id).filter(link_id=ref.id, clicked_at__range=(since, facts.placed_at))
        )
        if ref is not None and ref.kind == "link"
        else []
    )
    bindings: list[BindingFact] = []
    if ctx.credit_bound_clerk and facts.customer_id:
        bindings = [
            BindingFact(*row)
            for row in Binding.objects.filter(
                brand_id=ctx.brand_id,
                customer_id=facts.customer_id,
                started_at__lte=facts.placed_at,
            ).values_list("clerk_id", "started_at", "ended_at", "store_id")
        ]
    decision = decide(
        facts, ctx, customer_clicks=customer_clicks, ref_clicks=ref_clicks, ref=ref, bindings=bindings
    )
    try:
        with transaction.atomic():
            attribution = Attribution.objects.create(
                brand_id=ctx.brand_id,
                order_id=order.pk,
                clerk_id=decision.clerk_id,
                store_id=decision.store_id,
                rule=decision.rule,
                click_id=decision.click_id,
                reason_zh=decision.reason_zh[:300],
                reason_en=decision.reason_en[:300],
                decided_at=timezone.now(),
            )
            if decision.clerk_id is not None and facts.status != Order.Status.CANCELLED:
                lines = OrderLine.objects.filter(order_id=order.pk).values_list(
                    "total", "product__category_id"
                )
                basis, amount = commission_for(facts, lines, store_id=decision.store_id, ctx=ctx)
                CommissionEntry.objects.bulk_create(
                    [
                        CommissionEntry(
                            brand_id=ctx.brand_id,
                            clerk_id=decision.clerk_id,
                            order_id=order.pk,
                            kind=CommissionEntry.Kind.SALE,
                            basis=basis,
                            amount=amount,
                            month=month_of(facts.placed_at, ctx.zone),
                        )
                    ],
                    ignore_conflicts=True,
                )
            if decision.clerk_id is not None:  # after this commit, and only by the run that decided
                _publish_attributed(
                    ctx.brand_id, order.pk, decision.clerk_id, decision.store_id, decision.rule
                )
    except IntegrityError:  # a concurrent run decided it first; its answer stands
        return Attribution.objects.get(order_id=order.pk)
    if attribution.clerk_id is not None:
        transaction.on_commit(lambda: settle_cancelled(ctx.brand_id, [order.pk]))
    return attribution


def reverse_for_refund(refund: Refund | int) -> list[CommissionEntry]:
    """Write the reversing entries for a refund: each sale entry clawed back by the refunded share."""
    if isinstance(refund, int):
        refund = Refund.objects.select_related("order").get(pk=refund)
    order = refund.order
    ctx_zone = _zone_of(order.brand_id)
    sales = list(CommissionEntry.objects.filter(order_id=order.pk, kind=CommissionEntry.Kind.SALE))
    entries = [
        CommissionEntry(
            brand_id=order.brand_id,
            clerk_id=sale.clerk_id,
            order_id=order.pk,
            refund_id=refund.pk,
            kind=CommissionEntry.Kind.REVERSAL,
            basis=-min(sale.basis, _round_div(sale.basis * refund.amount, order.total)) if order.total else 0,
            amount=-min(sale.amount, _round_div(sale.amount * refund.amount, order.total))
            if order.total
            else 0,
            month=month_of(refund.created_at, ctx_zone),
        )
        for sale in sales
    ]
    CommissionEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return list(CommissionEntry.objects.filter(refund_id=refund.pk))


def reverse_for_cancellation(order: Order | int) -> list[CommissionEntry]:
    """Write the reversing entries for a cancelled order: each clerk gives back what they still hold on it.

    What a clerk holds is the sum of their entries on the order (the sale, less any refund reversals),
    so nothing is clawed back twice. One entry per order and clerk (a unique constraint), dated in the
    month of the cancellation: a repeated event writes nothing more.
    """
    order_id = order if isinstance(order, int) else order.pk
    facts = Order.objects.filter(pk=order_id).values("brand_id", "status", "cancelled_at").first()
    if facts is None or facts["status"] != Order.Status.CANCELLED:
        return []
    month = month_of(facts["cancelled_at"] or timezone.now(), _zone_of(facts["brand_id"]))
    held = (
        CommissionEntry.objects.filter(order_id=order_id)
        .exclude(kind=CommissionEntry.Kind.CANCELLATION)
        .values("clerk_id")
        .annotate(basis=Sum("basis"), amount=Sum("amount"))
        .order_by("clerk_id")
    )
    entries = [
        CommissionEntry(
            brand_id=facts["brand_id"],
            clerk_id=row["clerk_id"],
            order_id=order_id,
            kind=CommissionEntry.Kind.CANCELLATION,
            basis=-row["basis"],
            amount=-row["amount"],
            month=month,
        )
        for row in held
        if row["basis"] or row["amount"]
    ]
    CommissionEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return list(CommissionEntry.objects.filter(order_id=order_id, kind=CommissionEntry.Kind.CANCELLATION))


def _zone_of(brand_id: int) -> ZoneInfo:
    name = Brand.objects.filter(pk=brand_id).values_list("time_zone", flat=True).first() or "Asia/Taipei"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Taipei")


# --- the batch -------------------------------------------------------------------------------------------


@dataclass
class BatchStats:
    considered: int = 0
    attributed: int = 0
    by_rule: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    commission_entries: int = 0


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _in_chunks(values: Sequence[int], size: int = 900) -> Iterator[Sequence[int]]:
    """SQLite caps the number of query parameters; PostgreSQL takes big lists happily."""
    step = 50_000 if connection.vendor == "postgresql" else size
    yield from _chunks(values, step)


def attribute_orders(
    brand: Brand, orders: QuerySet[Order] | Iterable[int], *, chunk_size: int = 20_000
) -> BatchStats:
    """Attribute many orders set-wise: per chunk a few queries read orders, clicks, refs, bindings and
    lines; decisions are made in memory (the same `decide` as the live path); attributions and
    commission entries are written with one multi-row INSERT each. On PostgreSQL each chunk is instead
    decided and written by one INSERT … SELECT (omo/attribution/batch_sql.py, the same rules and words).

    Orders already attributed are skipped, so a re-run is a no-op; concurrent runs are safe
    (unique order per attribution, unique sale entry per order and clerk, conflicts ignored).
    """
    ctx = brand_context(brand)
    if isinstance(orders, QuerySet):
        order_ids = list(orders.filter(brand=brand).order_by("id").values_list("id", flat=True))
    else:
        order_ids = sorted(set(orders))
    stats = BatchStats()
    started = timezone.now()
    if batch_sql.usable(ctx):
        # PostgreSQL: each chunk decided and written by one statement (see batch_sql); the few
        # orders it leaves (codes SQL might read differently) go through `decide` here.
        left = batch_sql.attribute_chunks(ctx, list(_chunks(order_ids, chunk_size)), stats)
        for chunk in _chunks(left, chunk_size):
            _attribute_chunk(brand, ctx, chunk, stats)
    else:
        for chunk in _chunks(order_ids, chunk_size):
            _attribute_chunk(brand, ctx, chunk, stats)
    if stats.commission_entries:
        transaction.on_commit(lambda: settle_cancelled(ctx.brand_id, order_ids))
    if stats.attributed:
        _publish_batch_attributed(ctx.brand_id, order_ids, since=started)
    return stats


def _publish_attributed(brand_id: int, order_id: int, clerk_id: int, store_id: int | None, rule: str) -> None:
    events.publish(
        "order.attributed",
        brand_id=brand_id,
        order_id=order_id,
        clerk_id=clerk_id,
        store_id=store_id,
        rule=rule,
    )


def _publish_batch_attributed(brand_id: int, order_ids: Sequence[int], *, since: dt.datetime) -> None:
    """`order.attributed` for each order of the batch credited to a clerk by this run (decided since it
    started). A concurrent run of the same orders may publish one too; the event id is per order,
    so subscribers see one event (omo/outgoing_webhooks keys its outbox by it)."""
    for chunk in _in_chunks(order_ids):
        wanted = set(chunk)
        for order_id, clerk_id, store_id, rule in (
            Attribution.objects.filter(
                brand_id=brand_id,
                order_id__gte=chunk[0],
                order_id__lte=chunk[-1],
                clerk_id__isnull=False,
                decided_at__gte=since,
            )
            .order_by("order_id")
            .values_list("order_id", "clerk_id", "store_id", "rule")
        ):
            if order_id in wanted:
                _publish_attributed(brand_id, order_id, clerk_id, store_id, rule)


def settle_cancelled(brand_id: int, order_ids: Sequence[int], *, chunk_size: int = 20_000) -> int:
    """Reverse the sale of any of these orders that is cancelled by now. Runs after the sale entries
    commit, so a cancellation that landed while the sale was being decided (its own reversal then
    saw no sale to give back) is still settled; reversals are idempotent, so both may run.
    Returns how many orders were settled."""
    settled = 0
    for chunk in _chunks(sorted(order_ids), chunk_size):
        wanted = set(chunk)
        cancelled = (
            CommissionEntry.objects.filter(
                brand_id=brand_id,
                order_id__gte=chunk[0],
                order_id__lte=chunk[-1],
                kind=CommissionEntry.Kind.SALE,
                order__status=Order.Status.CANCELLED,
            )
            .values_list("order_id", flat=True)
            .distinct()
        )
        for order_id in cancelled:
            if order_id in wanted:
                reverse_for_cancellation(order_id)
                settled += 1
    return settled


def _attribute_chunk(brand: Brand, ctx: BrandContext, chunk: Sequence[int], stats: BatchStats) -> None:
    low, high = chunk[0], chunk[-1]
    wanted = set(chunk)
    # An id range plus a NOT EXISTS reads the chunk in one indexed scan, with no huge IN list.
    rows = Order.objects.filter(brand=brand, id__gte=low, id__lte=high, attribution__isnull=True).values_list(
        *OrderFacts.FIELDS
    )
    facts = [OrderFacts(*row) for row in rows if row[0] in wanted]
    stats.considered += len(facts)
    if not facts:
        return
    earliest = min(f.placed_at for f in facts) - ctx.window
    latest = max(f.placed_at for f in facts)
    customer_ids = sorted({f.customer_id for f in facts if f.customer_id})
    clicks_by_customer: dict[int, list[ClickFact]] = defaultdict(list)
    counted = _counted_clicks(ctx.brand_id)
    for part in _in_chunks(customer_ids):
        rows_c = counted.filter(customer_id__in=part, clicked_at__range=(earliest, latest)).values_list(
            "customer_id", "clicked_at", "id", "clerk_id", "link_id"
        )
        for customer_id, at, pk, clerk_id, link_id in rows_c:
            clicks_by_customer[customer_id].append(ClickFact(at, pk, clerk_id, link_id))
    refs = {f.id: links.read_ref(f.ref) for f in facts if f.ref}
    link_ids = sorted({r.id for r in refs.values() if r is not None and r.kind == "link"})
    clicks_by_link: dict[int, list[ClickFact]] = defaultdict(list)
    for part in _in_chunks(link_ids):
        for at, pk, clerk_id, link_id in counted.filter(
            link_id__in=part, clicked_at__range=(earliest, latest)
        ).values_list("clicked_at", "id", "clerk_id", "link_id"):
            clicks_by_link[link_id].append(ClickFact(at, pk, clerk_id, link_id))
    for group in (*clicks_by_customer.values(), *clicks_by_link.values()):
        group.sort(key=lambda c: (c.clicked_at, c.id))
    bindings_by_customer: dict[int, list[BindingFact]] = defaultdict(list)
    if ctx.credit_bound_clerk:
        for part in _in_chunks(customer_ids):
            for customer_id, clerk_id, started_at, ended_at, store_id in Binding.objects.filter(
                brand_id=ctx.brand_id, customer_id__in=part, started_at__lte=latest
            ).values_list("customer_id", "clerk_id", "started_at", "ended_at", "store_id"):
                bindings_by_customer[customer_id].append(
                    BindingFact(clerk_id, started_at, ended_at, store_id)
                )
    decided_at = timezone.now()
    decisions: list[tuple[OrderFacts, Decision]] = []
    for order in facts:
        ref = refs.get(order.id)
        decision = decide(
            order,
            ctx,
            customer_clicks=clicks_by_customer.get(order.customer_id, ()) if order.customer_id else (),
            ref_clicks=clicks_by_link.get(ref.id, ()) if ref is not None and ref.kind == "link" else (),
            ref=ref,
            bindings=bindings_by_customer.get(order.customer_id, ()) if order.customer_id else (),
        )
        decisions.append((order, decision))
    credited = [
        order.id
        for order, d in decisions
        if d.clerk_id is not None and order.status != Order.Status.CANCELLED
    ]
    lines_by_order: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    if credited:
        # min/max, not first/last: the facts come in the model's ordering (newest first), not by id.
        for order_id, total, category_id in OrderLine.objects.filter(
            brand_id=ctx.brand_id, order_id__gte=min(credited), order_id__lte=max(credited)
        ).values_list("order_id", "total", "product__category_id"):
            lines_by_order[order_id].append((total, category_id))
    credited_set = set(credited)
    attributions = []
    entries = []
    for order, decision in decisions:
        stats.by_rule[str(decision.rule)] += 1
        attributions.append(
            (
                ctx.brand_id,
                order.id,
                decision.clerk_id,
                decision.store_id,
                decision.rule,
                decision.click_id,
                decision.reason_zh[:300],
                decision.reason_en[:300],
                decided_at,
            )
        )
        if order.id in credited_set:
            basis, amount = commission_for(
                order, lines_by_order.get(order.id, ()), store_id=decision.store_id, ctx=ctx
            )
            entries.append(
                (
                    ctx.brand_id,
                    decision.clerk_id,
                    order.id,
                    None,
                    CommissionEntry.Kind.SALE,
                    basis,
                    amount,
                    month_of(order.placed_at, ctx.zone),
                    decided_at,
                )
            )
    with transaction.atomic():
        stats.attributed += _insert_attributions(attributions)
        stats.commission_entries += _insert_entries(entries)


ATTRIBUTION_COLUMNS = (
    "brand_id",
    "order_id",
    "clerk_id",
    "store_id",
    "rule",
    "click_id",
    "reason_zh",
    "reason_en",
    "decided_at",
)
ENTRY_COLUMNS = (
    "brand_id",
    "clerk_id",
    "order_id",
    "refund_id",
    "kind",
    "basis",
    "amount",
    "month",
    "created_at",
)


def _copy_in(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], conflict: str) -> int:
    """PostgreSQL: COPY into a temp table, then INSERT … ON CONFLICT DO NOTHING (idempotent and fast)."""
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        # Only the columns we load, no constraints: ids come from the real table at the INSERT.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS _omo_stage_{table} ON COMMIT DROP AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        raw = cursor.cursor
        with raw.copy(f"COPY _omo_stage_{table} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _omo_stage_{table} "
            f"ON CONFLICT {conflict} DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE _omo_stage_{table}")
    return inserted


def _insert_attributions(rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _copy_in(Attribution._meta.db_table, ATTRIBUTION_COLUMNS, rows, "(order_id)")
    objs = [Attribution(**dict(zip(ATTRIBUTION_COLUMNS, row, strict=True))) for row in rows]
    Attribution.objects.bulk_create(objs, batch_size=500, ignore_conflicts=True)
    return len(objs)


def _insert_entries(rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _copy_in(
            CommissionEntry._meta.db_table,
            ENTRY_COLUMNS,
            rows,
            "(order_id, clerk_id) WHERE kind = 'sale'",
        )
    objs = [CommissionEntry(**dict(zip(ENTRY_COLUMNS, row, strict=True))) for row in rows]
    CommissionEntry.objects.bulk_create(objs, batch_size=500, ignore_conflicts=True)
    return len(objs)


# --- event subscribers (registered in AttributionConfig.ready) ---------------------------------------------


def on_order_recorded(payload: dict[str, Any]) -> None:
    """`order.recorded` arrives after commit: decide at once, so the clerk sees the sale right away.
    Orders of a bulk ingest are decided together by on_orders_batch_recorded instead."""
    if payload["in_batch"]:
        return
    attribute_order(int(payload["order_id"]))


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    """A batch of ingested orders: one set-wise pass instead of one decision per order."""
    attribute_orders(Brand.objects.get(pk=payload["brand_id"]), payload["order_ids"])


def on_order_refunded(payload: dict[str, Any]) -> None:
    reverse_for_refund(int(payload["refund_id"]))


def on_order_cancelled(payload: dict[str, Any]) -> None:
    reverse_for_cancellation(int(payload["order_id"]))
