"""The customer 360 timeline: everything one customer did, on every channel, newest first.

One query over `TrackedEvent` (index `tracked_event_by_customer`: brand, customer, timestamp):
what the shop's browser script and any Segment/RudderStack client sent, and what the server
recorded itself (omo.tracking.server_events: orders of every sales channel, chat, tracked-link
clicks, bindings, points, coupons). Paged by keyset on (timestamp, id), so page 100 costs what
page 1 costs; filtered by type group and by local date range.

Order events sent by a browser or SDK are left out: the server records every order of every sales
channel itself, so the browser's copy of the same order would show twice. Identify, group and
alias calls change who someone is, not what they did, and are left out too.

Callers check that the viewer may see the customer (console: `selectors.customer_detail`; clerk app:
own bound or visible customers) and pass a `Links` saying which links that viewer may follow.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import pgettext, pgettext_lazy

from omo.core.errors import FieldError
from omo.core.money import format_money, to_minor
from omo.customers.models import Customer
from omo.tracking.models import TrackedEvent

PAGE_SIZE = 30
MAX_PAGE_SIZE = 100

ORDER_EVENTS = ("Order Completed", "Order Refunded", "Order Cancelled")
CHAT_EVENTS = ("Message Received", "Message Sent")
CLICK_EVENTS = ("Product Clicked", "Link Clicked")
BINDING_EVENTS = ("Clerk Bound", "Clerk Unbound")
LOYALTY_EVENTS = (
    "Points Earned",
    "Points Redeemed",
    "Points Expired",
    "Points Adjusted",
    "Coupon Issued",
    "Coupon Redeemed",
)
SERVER_EVENTS = ORDER_EVENTS + CHAT_EVENTS + CLICK_EVENTS + BINDING_EVENTS + LOYALTY_EVENTS
SHOWN_TYPES = ("track", "page", "screen")

# Type groups offered as filters, in the order the filter shows them.
GROUPS: dict[str, Any] = {
    "orders": pgettext_lazy("timeline", "訂單"),
    "chat": pgettext_lazy("timeline", "對話"),
    "shop": pgettext_lazy("timeline", "網路商店瀏覽"),
    "clicks": pgettext_lazy("timeline", "導購連結"),
    "binding": pgettext_lazy("timeline", "綁定"),
    "loyalty": pgettext_lazy("timeline", "點數與優惠券"),
}


def _group_condition(group: str) -> Q:
    server = Q(source__isnull=True)
    if group == "orders":
        return server & Q(event__in=ORDER_EVENTS)
    if group == "chat":
        return server & Q(event__in=CHAT_EVENTS)
    if group == "clicks":
        return server & Q(event__in=CLICK_EVENTS)
    if group == "binding":
        return server & Q(event__in=BINDING_EVENTS)
    if group == "loyalty":
        return server & Q(event__in=LOYALTY_EVENTS)
    if group == "shop":
        return Q(source__isnull=False)
    raise ValueError(f"group must be one of {', '.join(GROUPS)}")


class TimelineError(FieldError, ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    group: str = ""
    since: dt.date | None = None  # local dates in the brand's time zone, both inclusive
    until: dt.date | None = None

    @classmethod
    def parse(cls, params: Any) -> Filters:
        """From query parameters (`group`, `since`, `until` as YYYY-MM-DD); TimelineError names the field."""
        group = (params.get("group") or "").strip()
        if group and group not in GROUPS:
            raise TimelineError("group", f"must be one of {', '.join(GROUPS)}")
        dates: dict[str, dt.date | None] = {}
        for name in ("since", "until"):
            raw = (params.get(name) or "").strip()
            if not raw:
                dates[name] = None
                continue
            try:
                dates[name] = dt.date.fromisoformat(raw)
            except ValueError as exc:
                raise TimelineError(name, "must be a date as YYYY-MM-DD") from exc
        if dates["since"] and dates["until"] and dates["until"] < dates["since"]:
            raise TimelineError("until", "must not be before since")
        return cls(group=group, since=dates["since"], until=dates["until"])

    def as_query(self) -> dict[str, str]:
        query = {}
        if self.group:
            query["group"] = self.group
        if self.since:
            query["since"] = self.since.isoformat()
        if self.until:
            query["until"] = self.until.isoformat()
        return query


@dataclass(frozen=True)
class Links:
    """Which links the viewer may follow. Each returns a URL or None."""

    order: Callable[[dict[str, Any]], str | None] = lambda props: None
    conversation: Callable[[int], str | None] = lambda conversation_id: None
    product: Callable[[str], str | None] = lambda product_id: None


def console_links(order_store_scope: int | None = None) -> Links:
    """Console: order and product pages, the inbox conversation. A store manager's viewer opens
    only the orders of their store (`order_store_scope`); the others are shown without a link."""

    def order(props: dict[str, Any]) -> str | None:
        if order_store_scope is not None and props.get("store_id") != order_store_scope:
            return None
        return _reverse("console:order_detail", props.get("order_id"))

    return Links(
        order=order,
        conversation=lambda conversation_id: _reverse("console:inbox_conversation", conversation_id),
        product=lambda product_id: _reverse("console:product_detail", product_id),
    )


def clerk_links(can_open_conversation: Callable[[int], bool]) -> Links:
    """Clerk app: only the chats the clerk may open."""
    return Links(
        conversation=lambda conversation_id: (
            _reverse("clerk:chat", conversation_id) if can_open_conversation(conversation_id) else None
        )
    )


def _reverse(name: str, pk: Any) -> str | None:
    try:
        return reverse(name, args=[int(pk)])
    except (NoReverseMatch, TypeError, ValueError):
        return None


@dataclass
class Entry:
    id: int
    at: dt.datetime
    event: str
    group: str
    text: str
    detail: str = ""
    url: str | None = None


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str = ""
    filters: Filters = field(default_factory=Filters)


# --- the query ----------------------------------------------------------------------------------


def encode_cursor(event: TrackedEvent) -> str:
    raw = f"{event.timestamp.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, pk = raw.partition("|")
        at = dt.datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise TimelineError("cursor", "is not a cursor this page gave out") from exc


def events_for(customer: Customer, filters: Filters = Filters(), *, zone: ZoneInfo | None = None) -> QuerySet:
    """The customer's events that the timeline shows, newest first (not yet paged)."""
    events = TrackedEvent.objects.filter(
        brand_id=customer.brand_id, customer_id=customer.pk, type__in=SHOWN_TYPES
    )
    events = events.exclude(Q(source__isnull=False) & Q(event__in=ORDER_EVENTS))
    if filters.group:
        events = events.filter(_group_condition(filters.group))
    zone = zone or ZoneInfo(customer.brand.time_zone)
    if filters.since:
        events = events.filter(timestamp__gte=dt.datetime.combine(filters.since, dt.time.min, tzinfo=zone))
    if filters.until:
        next_day = filters.until + dt.timedelta(days=1)
        events = events.filter(timestamp__lt=dt.datetime.combine(next_day, dt.time.min, tzinfo=zone))
    return events.order_by("-timestamp", "-id")


def timeline_page(
    customer: Customer,
    filters: Filters = Filters(),
    *,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    links: Links | None = None,
) -> TimelinePage:
    """One page of the timeline, after `cursor` (from the previous page's `next_cursor`)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    zone = ZoneInfo(customer.brand.time_zone)
    events = events_for(customer, filters, zone=zone)
    if cursor:
        at, pk = decode_cursor(cursor)
        events = events.filter(Q(timestamp__lt=at) | Q(timestamp=at, pk__lt=pk))
    rows = list(
        events.only("id", "source_id", "type", "event", "properties", "context", "timestamp")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    links = links or Links()
    return TimelinePage(
        entries=[describe(row, links=links, currency=customer.brand.currency) for row in rows],
        next_cursor=encode_cursor(rows[-1]) if more and rows else "",
        filters=filters,
    )


# --- one readable line per event ----------------------------------------------------------------


def _money(value: Any, currency: str) -> str:
    try:
        return format_money(to_minor(Decimal(str(value)), currency), currency)
    except (InvalidOperation, ValueError, TypeError):
        return ""


def _quote(text: Any, limit: int = 60) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(*parts: Any) -> str:
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def group_of(event: TrackedEvent) -> str:
    if event.source_id is not None:
        return "shop"
    for group, names in (
        ("orders", ORDER_EVENTS),
        ("chat", CHAT_EVENTS),
        ("clicks", CLICK_EVENTS),
        ("binding", BINDING_EVENTS),
        ("loyalty", LOYALTY_EVENTS),
    ):
        if event.event in names:
            return group
    return "shop"


def describe(event: TrackedEvent, *, links: Links, currency: str = "TWD") -> Entry:
    """One zh-Hant line (through translation) with a detail line and, where useful, a link."""
    props = event.properties if isinstance(event.properties, dict) else {}
    cur = str(props.get("currency") or currency)
    entry = Entry(id=event.pk, at=event.timestamp, event=event.event, group=group_of(event), text=event.event)
    name = event.event
    number = props.get("order_number") or props.get("order_id") or ""
    if event.source_id is None:
        _describe_server(entry, name, props, number, cur, links)
    else:
        _describe_browser(entry, event, props, cur, links)
    if not entry.text:
        entry.text = name or event.type
    return entry


def _describe_server(
    entry: Entry, name: str, props: dict[str, Any], number: str, cur: str, links: Links
) -> None:
    p = pgettext
    if name == "Order Completed":
        count = sum(
            int(item.get("quantity") or 0) for item in props.get("products") or [] if isinstance(item, dict)
        )
        entry.text = p("timeline", "完成訂單 %(number)s") % {"number": number}
        entry.detail = _join(
            props.get("affiliation"),
            props.get("store"),
            _money(props.get("total"), cur),
            p("timeline", "%(count)s 件") % {"count": count} if count else "",
        )
        entry.url = links.order(props)
    elif name == "Order Refunded":
        entry.text = p("timeline", "訂單 %(number)s 退款 %(amount)s") % {
            "number": number,
            "amount": _money(props.get("amount"), cur),
        }
        entry.detail = _join(props.get("affiliation"), props.get("store"))
        entry.url = links.order(props)
    elif name == "Order Cancelled":
        entry.text = p("timeline", "訂單 %(number)s 已取消") % {"number": number}
        entry.detail = _join(props.get("affiliation"), props.get("store"), _money(props.get("total"), cur))
        entry.url = links.order(props)
    elif name in CHAT_EVENTS:
        platform = (
            str(props.get("platform") or "").upper()
            if props.get("platform") == "line"
            else props.get("platform")
        )
        if name == "Message Received":
            entry.text = p("timeline", "傳來訊息：「%(text)s」") % {
                "text": _quote(props.get("preview")) or "…"
            }
        else:
            entry.text = p("timeline", "品牌回覆：「%(text)s」") % {
                "text": _quote(props.get("preview")) or "…"
            }
        entry.detail = _join(platform, props.get("inbox"))
        if props.get("conversation_id"):
            entry.url = links.conversation(props["conversation_id"])
    elif name == "Product Clicked":
        entry.text = p("timeline", "點擊導購連結：%(product)s") % {"product": props.get("name") or "—"}
        entry.detail = (
            p("timeline", "店員 %(clerk)s") % {"clerk": props["clerk"]} if props.get("clerk") else ""
        )
        if props.get("product_id"):
            entry.url = links.product(props["product_id"])
    elif name == "Link Clicked":
        entry.text = p("timeline", "點擊連結")
        entry.detail = _join(
            p("timeline", "店員 %(clerk)s") % {"clerk": props["clerk"]} if props.get("clerk") else "",
            props.get("url"),
        )
    elif name == "Clerk Bound":
        entry.text = p("timeline", "綁定店員 %(clerk)s") % {"clerk": props.get("clerk") or "—"}
        entry.detail = _join(props.get("store"), props.get("source"))
    elif name == "Clerk Unbound":
        entry.text = p("timeline", "解除綁定店員 %(clerk)s") % {"clerk": props.get("clerk") or "—"}
        entry.detail = _join(props.get("store"), props.get("reason"))
    elif name.startswith("Points "):
        points = int(props.get("points") or 0)
        labels = {
            "Points Earned": p("timeline", "獲得 %(points)s 點"),
            "Points Redeemed": p("timeline", "折抵 %(points)s 點"),
            "Points Expired": p("timeline", "%(points)s 點到期"),
            "Points Adjusted": p("timeline", "點數調整 %(points)s 點"),
        }
        shown = f"{points:+,}" if name == "Points Adjusted" else f"{abs(points):,}"
        entry.text = labels.get(name, labels["Points Adjusted"]) % {"points": shown}
        entry.detail = _quote(props.get("reason"))
    elif name == "Coupon Issued":
        entry.text = p("timeline", "獲得優惠券「%(coupon)s」") % {"coupon": props.get("coupon_name") or "—"}
        entry.detail = props.get("coupon") or ""
    elif name == "Coupon Redeemed":
        entry.text = p("timeline", "使用優惠券「%(coupon)s」") % {"coupon": props.get("coupon_name") or "—"}
        entry.detail = _join(props.get("coupon"), _money(props.get("discount"), cur))


def _product_name(props: dict[str, Any]) -> str:
    name = props.get("name") or props.get("sku") or props.get("product_id") or "—"
    variant = props.get("variant")
    return f"{name}（{variant}）" if variant else str(name)


def _safe_url(value: Any) -> str | None:
    # Only the shop's own paths and http(s) pages become links; a browser could send anything.
    if isinstance(value, str) and (value.startswith(("https://", "http://")) or value.startswith("/")):
        return value if not value.startswith("//") else None
    return None


def _describe_browser(
    entry: Entry, event: TrackedEvent, props: dict[str, Any], cur: str, links: Links
) -> None:
    p = pgettext
    name = event.event
    page = event.context.get("page") if isinstance(event.context, dict) else None
    page = page if isinstance(page, dict) else {}
    if event.type in ("page", "screen"):
        title = props.get("title") or page.get("title") or name or props.get("path") or page.get("path") or ""
        entry.text = p("timeline", "瀏覽網頁：%(title)s") % {"title": _quote(title)}
        entry.detail = _quote(props.get("path") or page.get("path") or "", 80)
        entry.url = _safe_url(props.get("url") or page.get("url"))
        return
    if name == "Product Viewed":
        entry.text = p("timeline", "瀏覽商品：%(product)s") % {"product": _product_name(props)}
        entry.detail = _money(props.get("price"), cur) if props.get("price") is not None else ""
        entry.url = _safe_url(props.get("url"))
    elif name == "Product Added":
        entry.text = p("timeline", "加入購物車：%(product)s × %(quantity)s") % {
            "product": _product_name(props),
            "quantity": props.get("quantity") or 1,
        }
        entry.detail = _money(props.get("price"), cur) if props.get("price") is not None else ""
    elif name == "Product Removed":
        entry.text = p("timeline", "移出購物車：%(product)s") % {"product": _product_name(props)}
    elif name == "Cart Viewed":
        listed = props.get("products")
        products = listed if isinstance(listed, list) else []
        entry.text = p("timeline", "查看購物車（%(count)s 項商品）") % {"count": len(products)}
    elif name == "Checkout Started":
        entry.text = p("timeline", "開始結帳")
        entry.detail = _money(props.get("value") or props.get("total") or props.get("revenue"), cur)
    elif name == "Products Searched":
        entry.text = p("timeline", "搜尋商品「%(query)s」") % {"query": _quote(props.get("query"))}
    else:
        entry.text = name
    if not entry.detail:
        entry.detail = _quote(page.get("path") or "", 80)
