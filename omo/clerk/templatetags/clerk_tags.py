from __future__ import annotations

from django import template
from django.utils.translation import pgettext

from omo.core.money import format_money

register = template.Library()


@register.filter
def money(minor: int | None, currency: str = "TWD") -> str:
    return format_money(int(minor or 0), currency or "TWD")


@register.simple_tag
def clerk_strings() -> dict[str, str]:
    """The words clerk.js shows, in the page's language (__N__ stands for a number)."""
    return {
        "queued": pgettext("clerk", "傳送中"),
        "sent": pgettext("clerk", "已送出"),
        "failed": pgettext("clerk", "傳送失敗"),
        "live": pgettext("clerk", "即時更新中"),
        "reconnecting": pgettext("clerk", "離線，重新連線中…"),
        "no_chats": pgettext("clerk", "還沒有對話。"),
        "customer": pgettext("clerk", "顧客"),
        "via_reply": pgettext("clerk", "回覆（免費）"),
        "via_push": pgettext("clerk", "推播"),
        "retry": pgettext("clerk", "重試"),
        "moved": pgettext("clerk", "此對話已轉給其他同仁"),
        "copied": pgettext("clerk", "已複製"),
        "waited_minutes": pgettext("clerk", "等候 __N__ 分"),
        "waited_hours": pgettext("clerk", "等候 __N__ 小時"),
        "picked": pgettext("clerk", "已選 __N__ / 10"),
        "cart_items": pgettext("clerk", "購物車 __N__ 項"),
        "stock": pgettext("clerk", "本店 __MINE__ · 他店 __OTHER__ · 線上 __ONLINE__"),
        "open_in_shop": pgettext("clerk", "查看商品"),
        "cards_alt": pgettext("clerk", "商品卡片"),
    }
