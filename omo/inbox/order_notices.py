"""Order notices in the customer's chat: the confirmation of a built-in shop order and the
shipping notice when an order leaves (carrier, tracking number, tracking link).

Commerce sits below the inbox and never calls it: the inbox subscribes to `order.recorded` and
`order.fulfilled` (durable, so a notice lost in a crash is sent by the worker's retry; the
notice's message row and the follow-up's deletion commit together, and a notice already queued
for the order is never queued again).

The notices are **transactional** (consent purpose "transactional"): they go to every customer
reachable on LINE (a contact that has not blocked the account) unless the customer withdrew
transactional messages; a marketing opt-out does not stop them, and marketing caps and quiet hours
do not apply. They go through the ordinary outbound path: the conversation's free reply token
when one is still fresh (the customer just wrote), else a push (docs/orders.md).

Text in Traditional Chinese, English when the customer's LINE language is English.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation

from omo.commerce import shop_links
from omo.commerce.models import Order, SalesChannel
from omo.commerce.tracking import tracking_url
from omo.core import events
from omo.core.money import format_money
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import OutboundError, queue_message

logger = logging.getLogger(__name__)

CONFIRMED = "order_confirmed"
SHIPPED = "order_shipped"

TEXTS: dict[str, dict[str, str]] = {
    CONFIRMED: {
        "zh": "感謝您的訂購！\n訂單編號：{number}\n金額：{total}\n付款方式：{payment}\n出貨時會再通知您。\n查看訂單：{url}",
        "en": "Thank you for your order!\nOrder number: {number}\nTotal: {total}\nPayment: {payment}\n"
        "We will let you know when it ships.\nYour order: {url}",
    },
    SHIPPED: {
        "zh": "您的訂單 {number} 已出貨！\n物流：{carrier}",
        "en": "Your order {number} has shipped!\nCarrier: {carrier}",
    },
}
TRACKING_NUMBER = {"zh": "\n追蹤號碼：{number}", "en": "\nTracking number: {number}"}
TRACKING_LINK = {"zh": "\n查詢貨態：{url}", "en": "\nTrack your parcel: {url}"}


def _conversation(order: Order) -> Conversation | None:
    """The customer's latest LINE conversation whose contact has not blocked the account."""
    if order.customer_id is None:
        return None
    return (
        Conversation.objects.select_related("contact", "inbox", "customer")
        .filter(
            brand_id=order.brand_id,
            customer_id=order.customer_id,
            inbox__platform="line",
            inbox__is_active=True,
            contact__blocked_at__isnull=True,
        )
        .order_by("-last_message_at", "-pk")
        .first()
    )


def language_of(conversation: Conversation) -> str:
    return "en" if (conversation.contact.language or "").lower().startswith("en") else "zh"


def _absolute(path: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}{path}"


def confirmation_text(order: Order, lang: str) -> str:
    with translation.override("en" if lang == "en" else "zh-hant"):
        return TEXTS[CONFIRMED][lang].format(
            number=order.display_number,
            total=format_money(order.total, order.currency),
            payment=str(order.get_payment_method_display()),
            url=_absolute(shop_links.order_link(order)),
        )


def shipping_text(order: Order, lang: str) -> str:
    with translation.override("en" if lang == "en" else "zh-hant"):
        text = TEXTS[SHIPPED][lang].format(
            number=order.display_number, carrier=str(order.get_carrier_display()) if order.carrier else "—"
        )
    if order.tracking_number:
        text += TRACKING_NUMBER[lang].format(number=order.tracking_number)
    link = tracking_url(order.carrier, order.tracking_number)
    if link:
        text += TRACKING_LINK[lang].format(url=link)
    return text


def _already_sent(conversation: Conversation, notice: str, order: Order) -> bool:
    return Message.objects.filter(
        brand_id=order.brand_id,
        conversation__customer_id=conversation.customer_id,
        direction=Message.Direction.OUTBOUND,
        payload__notice=notice,
        payload__order_id=order.pk,
    ).exists()


@transaction.atomic
def send_notice(order: Order, notice: str) -> Message | None:
    """Queue one notice for the order in the customer's LINE chat; None when there is no chat to
    send to, consent does not allow it, or it was queued already."""
    conversation = _conversation(order)
    if conversation is None:
        return None
    if _already_sent(conversation, notice, order):
        return None
    lang = language_of(conversation)
    text = confirmation_text(order, lang) if notice == CONFIRMED else shipping_text(order, lang)
    try:
        return queue_message(
            conversation,
            kind=Message.Kind.TEXT,
            text=text,
            payload={"notice": notice, "order_id": order.pk},
            purpose="transactional",
        )
    except OutboundError as exc:
        logger.info("order %s: %s not sent: %s", order.pk, notice, exc.message)
        return None


def _order(order_id: int) -> Order | None:
    return Order.objects.select_related("brand").filter(pk=order_id).first()


def on_order_recorded(payload: dict[str, Any]) -> None:
    """A new order of the built-in shop: its confirmation (other sales channels confirm themselves)."""
    if payload["in_batch"] or not payload["created"] or payload["sales_channel"] != SalesChannel.WEB_SHOP:
        return
    order = _order(int(payload["order_id"]))
    if order is not None:
        send_notice(order, CONFIRMED)


def on_order_fulfilled(payload: dict[str, Any]) -> None:
    """An order shipped to the customer's home: the shipping notice (a pick-up is handed over in person)."""
    order = _order(int(payload["order_id"]))
    if order is not None and order.fulfilment == Order.Fulfilment.SHIP:
        send_notice(order, SHIPPED)


def register() -> None:
    events.subscribe(
        "order.recorded", on_order_recorded, durable="inbox.order_confirmation", when=events.not_in_batch
    )
    events.subscribe("order.fulfilled", on_order_fulfilled, durable="inbox.shipping_notice")
