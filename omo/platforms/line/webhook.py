"""LINE webhooks, edge side: signature, shape, receipt rows and LINE's limits. No SDK, no database.

The webhook edge (omo/platforms/edge.py) imports only this, so a web process answers LINE without
loading the SDK (importing its hundreds of pydantic models takes seconds on a busy 2-core machine,
which a first webhook must not wait for). Everything that needs the SDK is in adapter.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from omo.platforms.base import PlatformLimits, RateLimit, ReceiptRow, stable_event_id

if TYPE_CHECKING:
    from omo.inbox.models import Inbox

SIGNATURE_HEADER = "x-line-signature"

LINE_LIMITS = PlatformLimits(
    max_messages_per_request=5,
    max_text_length=5000,
    max_cards_per_carousel=12,
    max_recipients_per_multicast=500,
    rate_limits={
        "reply": RateLimit(2000),
        "push": RateLimit(2000),
        "multicast": RateLimit(200),
        "loading": RateLimit(100),
        "broadcast": RateLimit(60, per_seconds=3600),
        "narrowcast": RateLimit(60, per_seconds=3600),
        "other": RateLimit(2000),
    },
    # LINE says "within one minute", not guaranteed and subject to change: we trust 50 s so that a
    # reply started at the edge of the window still lands inside it.
    reply_token_life=dt.timedelta(seconds=50),
    webhook_deadline=dt.timedelta(seconds=2),
    max_webhook_body_bytes=1024 * 1024,
)


def compute_signature(channel_secret: str, raw_body: bytes) -> str:
    """base64(HMAC-SHA256(channel secret, raw body)), as LINE puts in x-line-signature."""
    digest = hmac.new(channel_secret.encode("utf-8"), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(channel_secret: str, headers: Mapping[str, str], raw_body: bytes) -> bool:
    """Constant-time check of the signature header (keys lower-case) against the unmodified raw body."""
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature or not channel_secret:
        return False
    expected = compute_signature(channel_secret, raw_body).encode("ascii")
    return hmac.compare_digest(signature.encode("latin-1", "replace"), expected)


def event_time(value: Any) -> dt.datetime | None:
    """LINE timestamps are milliseconds since the epoch; anything else is no time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def receipt_rows(document: Any) -> list[ReceiptRow]:
    """One row per event of a decoded webhook body; ValueError when the shape is not LINE's."""
    if not isinstance(document, dict):
        raise ValueError("the body must be a JSON object")
    events = document.get("events")
    if not isinstance(events, list):
        raise ValueError('"events" must be a list')
    rows = []
    for event in events:
        if not isinstance(event, dict):
            raise ValueError("every event must be a JSON object")
        event_id = event.get("webhookEventId")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 80:
            event_id = stable_event_id(event)
        event_type = event.get("type")
        rows.append(
            ReceiptRow(
                event_id=event_id,
                event_type=(event_type if isinstance(event_type, str) and event_type else "unknown")[:40],
                occurred_at=event_time(event.get("timestamp")),
                payload=event,
            )
        )
    return rows


class LineWebhook:
    """What the edge needs of one LINE inbox (omo.platforms.base.WebhookVerifier)."""

    platform = "line"
    limits = LINE_LIMITS

    def __init__(self, channel_secret: str) -> None:
        self.channel_secret = channel_secret

    @classmethod
    def for_inbox(cls, inbox: Inbox) -> LineWebhook:
        return cls((inbox.secrets or {}).get("channel_secret", ""))

    def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        return verify_signature(self.channel_secret, headers, raw_body)

    @staticmethod
    def receipt_rows(document: Any) -> list[ReceiptRow]:
        return receipt_rows(document)
