"""What the customer is told after a binding attempt, zh-Hant first, then English; and the shape
of a reply in the chat (the inbox sends it, omo/inbox/binding_flows.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from omo.binding.services.bindings import BindResult, Outcome
from omo.staff.models import User


@dataclass(frozen=True)
class Answer:
    """What to tell the customer in the chat, and whether their message is consumed.

    A message that is not consumed waits in the HQ or store queue, where a person can help."""

    message: str
    consumed: bool = True


def customer_message(result: BindResult, *, requested_clerk: User) -> str:
    """What the customer is told after a scan, zh-Hant first, then English."""
    clerk = result.binding.clerk
    home = clerk.store
    store = home.name if home is not None else ""
    at_store = f"（{store}）" if store else ""
    at_store_en = f" ({home.name_en or store})" if home is not None and store else ""
    if result.outcome in (Outcome.CREATED, Outcome.REPLACED):
        return (
            f"已為您綁定專屬店員 {clerk}{at_store}，之後的訊息都會由 {clerk} 為您服務。\n"
            f"You're now connected with your personal clerk {clerk}{at_store_en}."
        )
    if result.outcome == Outcome.ALREADY:
        return (
            f"{clerk}{at_store} 已經是您的專屬店員囉！\n{clerk}{at_store_en} is already your personal clerk."
        )
    extra = ""
    extra_en = ""
    if result.locked_until is not None:
        day = timezone.localtime(result.locked_until).date().isoformat()
        extra, extra_en = f"（{day} 後可更換）", f" (can be changed after {day})"
    return (
        f"您的專屬店員是 {clerk}{at_store}{extra}，我們會請 {clerk} 為您服務。\n"
        f"Your personal clerk is {clerk}{at_store_en}{extra_en}."
    )


def departed_message(clerk: User) -> str:
    home = clerk.store
    store = home.name if home is not None else ""
    if home is not None and store:
        return (
            f"這位店員已不在本品牌服務，我們已請 {store} 的門市團隊為您服務。\n"
            f"This clerk has left; the team at {home.name_en or store} will help you."
        )
    return "這位店員已不在本品牌服務，我們已請客服人員為您服務。\nThis clerk has left; our customer service will help you."


UNKNOWN_CODE_MESSAGE = (
    "找不到這個店員代碼，請再確認一次；我們已請客服人員為您服務。\n"
    "We couldn't find that clerk code; our customer service will help you."
)
