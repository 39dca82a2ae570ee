"""A product card's recipient and the person who ordered through it.

A card's tracked link names the customer it was sent to, and the order placed through it carries
the link's signed ref. When the order landed on another customer (not signed in, the checkout
matched the phone typed, or made a new customer), they may be one person, or the link may have
been forwarded. Nothing is merged and no order moves: HQ's merge queue gets a suggestion with the
reason in words (docs/identity.md). Signed in with LINE, the order is already the recipient's.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omo.attribution import links
from omo.attribution.models import LinkIssue
from omo.commerce.models import Order
from omo.customers import services as customer_services
from omo.inbox.models import Conversation

PLATFORM_NAMES = {
    "line": "LINE",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "webchat": "網站聊天",
}
REASON = "從 {date} 傳給{platform}顧客「{name}」的商品卡片下單（連結可能被轉傳），未自動合併"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Taipei")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Taipei")


def card_reason(link: LinkIssue) -> str:
    platform = ""
    if link.conversation_id:
        platform = (
            Conversation.objects.filter(pk=link.conversation_id, brand_id=link.brand_id)
            .values_list("inbox__platform", flat=True)
            .first()
            or ""
        )
    recipient = link.customer
    assert recipient is not None
    day = link.issued_at.astimezone(_zone(link.brand.time_zone)).date().isoformat()
    return REASON.format(
        date=day,
        platform=f" {PLATFORM_NAMES[platform]} " if platform in PLATFORM_NAMES else "",
        name=recipient.name or f"#{recipient.pk}",
    )


def suggest_card_recipient(order_id: int) -> bool:
    """Open a merge suggestion between the order's customer and its card's recipient when they
    differ. True when one was opened (False: no card, the same customer, or already suggested)."""
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None or order.customer is None:
        return False
    ref = links.read_ref(order.ref)
    if ref is None or ref.kind != "link":
        return False
    link = (
        LinkIssue.objects.select_related("customer", "brand")
        .filter(pk=ref.id, brand_id=order.brand_id, customer__isnull=False)
        .first()
    )
    if link is None or link.customer is None:
        return False
    return customer_services.suggest_merge(
        link.customer, order.customer, kind="product_card", value=f"#{link.pk}", reason=card_reason(link)
    )


def on_order_recorded(payload: dict[str, Any]) -> None:
    if payload["in_batch"] or not payload["created"]:
        return
    suggest_card_recipient(int(payload["order_id"]))
