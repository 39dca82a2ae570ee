"""Binding from a scan of a clerk's QR: the LIFF page posting the customer's LINE Login token, or
the prefilled "綁定專屬店員 #<code>" message arriving in the chat (the inbox's inbound handler calls
this, omo/inbox/binding_flows.py)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext

from omo.binding import chat, selectors
from omo.binding.line_login import IdTokenError, verify_id_token
from omo.binding.models import Binding
from omo.binding.services.bindings import bind_customer, hand_to_store
from omo.binding.services.codes import add_friend_url, line_inbox_of
from omo.binding.services.errors import BindingError
from omo.binding.services.replies import UNKNOWN_CODE_MESSAGE, Answer, customer_message, departed_message
from omo.customers.models import Customer

CODE_IN_TEXT = re.compile(r"#\s*([0-9A-Za-z]{10})(?![0-9A-Za-z])")


@dataclass
class LiffBindResult:
    outcome: str  # one of Outcome, or "departed"
    message: str
    add_friend_url: str
    clerk_name: str
    store_name: str


def bind_via_liff(raw_code: str, id_token: str) -> LiffBindResult:
    """The LIFF page posted `{idToken, clerk}`: verify the token with LINE Login, then bind."""
    code = selectors.find_code(raw_code)
    if code is None:
        raise BindingError("clerk", gettext("找不到這個店員代碼"), status=404)
    inbox = line_inbox_of(code.brand_id)
    login_channel_id = str((inbox.config or {}).get("login_channel_id") or "") if inbox else ""
    if inbox is None or not login_channel_id:
        raise BindingError("inbox", "this brand has no LINE Login channel configured", status=503)
    try:
        identity = verify_id_token(id_token, login_channel_id=login_channel_id)
    except IdTokenError as exc:
        raise BindingError("idToken", exc.message, status=502 if exc.retryable else 401) from exc
    clerk = code.clerk
    with transaction.atomic():
        # The same contact/customer the Messaging API webhook will find: one LINE user id per provider.
        # The conversation exists from the scan on, so the clerk sees the new customer at once.
        customer = chat.side().line_customer(inbox, identity.user_id, display_name=identity.name)
        if not clerk.is_active:
            hand_to_store(customer, clerk)
            return LiffBindResult(
                "departed",
                departed_message(clerk),
                add_friend_url(inbox),
                str(clerk),
                clerk.store.name if clerk.store is not None else "",
            )
        result = bind_customer(customer, clerk, source=Binding.Source.LIFF)
    shown = result.binding.clerk
    return LiffBindResult(
        result.outcome,
        customer_message(result, requested_clerk=clerk),
        add_friend_url(inbox),
        str(shown),
        shown.store.name if shown.store is not None else "",
    )


def line_shopper(brand_id: int, id_token: str) -> Customer:
    """The customer who holds the LINE user an ID token (from the shop's LIFF page) belongs to,
    verified with LINE Login; their contact and conversation are made on first sight, as on a LIFF
    scan. BindingError: no LIFF on the brand's LINE account (503), a refused token (401), LINE
    Login unreachable (502)."""
    inbox = line_inbox_of(brand_id)
    login_channel_id = str((inbox.config or {}).get("login_channel_id") or "") if inbox else ""
    if inbox is None or not login_channel_id:
        raise BindingError("inbox", "this brand has no LINE Login channel configured", status=503)
    try:
        identity = verify_id_token(id_token, login_channel_id=login_channel_id)
    except IdTokenError as exc:
        raise BindingError("idToken", exc.message, status=502 if exc.retryable else 401) from exc
    with transaction.atomic():
        customer: Customer = chat.side().line_customer(inbox, identity.user_id, display_name=identity.name)
    return customer


def answer_code_message(customer: Customer, text: str, *, at: dt.datetime) -> Answer | None:
    """`綁定專屬店員 #<code>` from `customer`: bind, or say why not. None when the text is no binding attempt.

    Consumed when it bound or told who the clerk is; an unknown or departed code is answered too,
    but not consumed.
    """
    match = CODE_IN_TEXT.search(text or "")
    if match is None:
        return None
    raw = match.group(1)
    code = selectors.find_code(raw)
    if code is None or code.brand_id != customer.brand_id:
        if selectors.normalize_code(raw) is None and "綁定" not in (text or ""):
            return None  # "#hashtag" chatter, not a binding attempt
        return Answer(UNKNOWN_CODE_MESSAGE, consumed=False)
    clerk = code.clerk
    if not clerk.is_active:
        hand_to_store(customer, clerk)
        return Answer(departed_message(clerk), consumed=False)
    result = bind_customer(customer, clerk, source=Binding.Source.MESSAGE_CODE, at=at)
    return Answer(customer_message(result, requested_clerk=clerk))
