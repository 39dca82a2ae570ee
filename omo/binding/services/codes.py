"""Clerk codes and where they lead: the clerk's stable code, the `/b/<code>` link behind the QR,
and the LINE links it opens (the LIFF page, or the chat with the binding text typed in)."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from django.conf import settings
from django.db import IntegrityError, transaction

from omo.binding import chat, selectors
from omo.binding.chat import LineInbox
from omo.binding.models import ClerkCode
from omo.binding.services.errors import BindingError
from omo.staff.models import User

PREFILL_TEXT = "綁定專屬店員 #{code}"


def _new_code() -> str:
    return "".join(secrets.choice(selectors.CODE_ALPHABET) for _ in range(selectors.CODE_LENGTH))


def clerk_code_for(clerk: User) -> ClerkCode:
    """The clerk's stable code, created on first use (unguessable: 31^10 ≈ 8·10^14 codes)."""
    if clerk.brand_id is None:
        raise BindingError("clerk", "only a brand's staff can have a clerk code")
    existing = ClerkCode.objects.filter(clerk=clerk).first()
    if existing is not None:
        return existing
    for _ in range(5):
        try:
            with transaction.atomic():
                return ClerkCode.objects.create(brand_id=clerk.brand_id, clerk=clerk, code=_new_code())
        except IntegrityError:
            existing = ClerkCode.objects.filter(clerk=clerk).first()
            if existing is not None:  # a concurrent request created it
                return existing
    raise BindingError("code", "could not allocate a unique code", status=500)


def binding_url(code: str) -> str:
    return f"{settings.BASE_URL}/b/{code}"


def line_inbox_of(brand_id: int) -> LineInbox | None:
    """The brand's (first active) LINE inbox: where binding links lead."""
    return chat.side().line_inbox(brand_id)


def liff_id_of(inbox: LineInbox | None) -> str:
    return str((inbox.config or {}).get("liff_id") or "") if inbox is not None else ""


def basic_id_of(inbox: LineInbox | None) -> str:
    """The LINE basic id without "@" (the handle is stored as "@herb")."""
    return (inbox.handle or "").lstrip("@") if inbox is not None else ""


def add_friend_url(inbox: LineInbox | None) -> str:
    basic_id = basic_id_of(inbox)
    return f"https://line.me/R/ti/p/%40{quote(basic_id, safe='')}" if basic_id else ""


def liff_url(inbox: LineInbox, code: str) -> str:
    return f"https://liff.line.me/{liff_id_of(inbox)}?clerk={quote(code, safe='')}"


def liff_ready(inbox: LineInbox | None) -> bool:
    """Both halves of LIFF are set: the LIFF app's id and the LINE Login channel that verifies its tokens."""
    return inbox is not None and bool(liff_id_of(inbox) and (inbox.config or {}).get("login_channel_id"))


def shop_liff_url(inbox: LineInbox, link_token: str) -> str:
    """A product card's link inside LINE: the LIFF app opens `/b/liff/shop?r=<token>` below its
    endpoint URL (`<OMO_BASE_URL>/b/liff/`), signs the shopper in with LINE, then follows `/r/<token>`."""
    liff_id = liff_id_of(inbox)
    # `liff` repeats the LIFF id for the endpoint page, which must call liff.init() with it before
    # LINE's secondary redirect reaches /b/liff/shop.
    return (
        f"https://liff.line.me/{liff_id}/shop?r={quote(link_token, safe=':')}&liff={quote(liff_id, safe='')}"
    )


def prefilled_message_url(inbox: LineInbox, code: str) -> str:
    """LINE opens the chat with the text typed in; the customer taps send (platforms.md §A10)."""
    basic_id = quote("@" + basic_id_of(inbox), safe="")
    return f"https://line.me/R/oaMessage/{basic_id}/?{quote(PREFILL_TEXT.format(code=code), safe='')}"


def link_target(code: ClerkCode) -> str:
    """Where `/b/<code>` sends the phone: LIFF when configured, else the prefilled-message chat.

    Raises BindingError (503) when the brand has no LINE account connected yet."""
    inbox = line_inbox_of(code.brand_id)
    if inbox is None or not basic_id_of(inbox):
        raise BindingError("inbox", "this brand has not connected a LINE official account yet", status=503)
    if liff_ready(inbox):
        return liff_url(inbox, code.code)
    return prefilled_message_url(inbox, code.code)
