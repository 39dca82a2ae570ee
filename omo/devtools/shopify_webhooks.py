"""Webhooks signed like Shopify's: `sign(secret, body)` and `webhook_headers(...)` produce exactly
what Shopify sends (`X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the raw body with the app
secret, plus topic, shop domain, API version, webhook id, event id, triggered-at), and
`deliver(url, ...)` POSTs a signed fixture to omo.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body, keyed with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    secret: str,
    body: bytes,
    *,
    topic: str,
    shop_domain: str,
    api_version: str = "2025-07",
    webhook_id: str | None = None,
    event_id: str | None = None,
    triggered_at: str | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
    }


def deliver(
    url: str, secret: str, body: bytes, *, timeout: float = 5.0, **headers: Any
) -> tuple[int, dict[str, Any]]:
    """POST one signed webhook to `url` (e.g. omo's /webhooks/shopify/<id>); returns (status, JSON body)."""
    import urllib3

    response = urllib3.request(
        "POST",
        url,
        body=body,
        headers=webhook_headers(secret, body, **headers),
        timeout=timeout,
        retries=False,
    )
    try:
        answer = json.loads(response.data or b"{}")
    except ValueError:
        answer = {"raw": response.data.decode(errors="replace")}
    return response.status, answer
