"""How a webhook is signed, and how a receiver checks it (the same recipe as docs/webhooks.md).

    Omo-Webhook-Id:        the event id (stable across retries: receivers dedupe on it)
    Omo-Webhook-Timestamp: Unix seconds when this attempt was sent
    Omo-Signature:         v1=<hex HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")>

The key is the whole secret string (`whsec_…`) as UTF-8. During the day after a rotation the header
carries two signatures, new first: `v1=<new> v1=<old>`; a receiver accepts either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
ID_HEADER = "Omo-Webhook-Id"
TIMESTAMP_HEADER = "Omo-Webhook-Timestamp"
SIGNATURE_HEADER = "Omo-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    message = f"{event_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_in_order: list[str], event_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(f"v1={signature(secret, event_id, timestamp, body)}" for secret in secrets_in_order)


def verify(
    secret: str,
    *,
    event_id: str,
    timestamp: str,
    body: bytes,
    header: str,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when one of the header's v1 signatures is ours and the timestamp is recent."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance:
        return False
    expected = signature(secret, event_id, sent_at, body)
    for part in header.replace(",", " ").split():
        version, _, value = part.partition("=")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False
