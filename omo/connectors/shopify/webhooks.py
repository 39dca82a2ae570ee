"""Receiving Shopify webhooks: verify the HMAC on the raw body, store one ShopifyWebhook row (unique
per delivery id and per topic + event id, so retries and the copies of one event are no-ops) with
its processing task in the same transaction; the view then answers 200 within Shopify's 5 seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction

from omo.connectors.models import ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify import mapping
from omo.core.errors import DomainError

MAX_WEBHOOK_BYTES = 2 * 1024 * 1024

ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")

CUSTOMER_TOPICS = ("customers/create", "customers/update")

PRODUCT_TOPICS = ("products/create", "products/update")

PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

UNINSTALLED_TOPIC = "app/uninstalled"

TOPICS = (
    *ORDER_TOPICS,
    "refunds/create",
    *CUSTOMER_TOPICS,
    *PRODUCT_TOPICS,
    UNINSTALLED_TOPIC,
    *PRIVACY_TOPICS,
)


class WebhookRefused(DomainError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message, status=status, code=code)


def signature_matches(secret: str, raw_body: bytes, header: str) -> bool:
    """`X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, raw body)); compared in constant time."""
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.strip().encode("latin-1", "replace"))


@dataclass(frozen=True)
class Accepted:
    receipt_id: int
    duplicate: bool


def _order_ref_of(topic: str, document: dict[str, Any]) -> str:
    if topic in ORDER_TOPICS:
        value = document.get("id")
    elif topic == "refunds/create":
        value = document.get("order_id")
    else:
        return ""
    return str(value) if value not in (None, "") else ""


def accept_webhook(connection_id: int, *, headers: Any, raw_body: bytes) -> Accepted:
    """Verify and store one delivery (with its processing task). WebhookRefused says why not.

    `headers` is any case-insensitive mapping (Django's request.headers)."""
    # An uninstalled connection still receives: Shopify sends shop/redact 48 hours after an
    # uninstall, and what arrives is kept for HQ. One HQ switched off receives nothing.
    connection = (
        ShopifyConnection.objects.filter(pk=connection_id)
        .filter(models.Q(is_active=True) | models.Q(uninstalled_at__isnull=False))
        .first()
    )
    if connection is None:
        raise WebhookRefused(404, "unknown_connection", "no active Shopify connection with this id")
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise WebhookRefused(413, "payload_too_large", f"the body is larger than {MAX_WEBHOOK_BYTES} bytes")
    if not signature_matches(
        connection.secrets.get("webhook_secret", ""), raw_body, headers.get("X-Shopify-Hmac-Sha256", "")
    ):
        raise WebhookRefused(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    topic = (headers.get("X-Shopify-Topic") or "").strip()
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()
    event_id = (headers.get("X-Shopify-Event-Id") or "").strip()
    if not topic:
        raise WebhookRefused(400, "missing_header", "X-Shopify-Topic is required")
    if not webhook_id or len(webhook_id) > 100:
        raise WebhookRefused(
            400, "missing_header", "X-Shopify-Webhook-Id is required (at most 100 characters)"
        )
    if len(event_id) > 100:
        raise WebhookRefused(400, "bad_header", "X-Shopify-Event-Id is longer than 100 characters")
    domain = (headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    if domain and domain != connection.shop_domain:
        raise WebhookRefused(
            400, "wrong_shop", f"X-Shopify-Shop-Domain {domain} is not {connection.shop_domain}"
        )
    try:
        document = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRefused(400, "malformed", f"body is not JSON: {exc}"[:200]) from exc
    if not isinstance(document, dict):
        raise WebhookRefused(400, "malformed", "body must be a JSON object")
    triggered = (
        mapping.timestamp({"t": headers.get("X-Shopify-Triggered-At")}, "t")
        if headers.get("X-Shopify-Triggered-At")
        else None
    )
    status, note = _initial_status(connection, topic)
    with transaction.atomic():
        try:
            with transaction.atomic():
                receipt = ShopifyWebhook.objects.create(
                    brand_id=connection.brand_id,
                    connection=connection,
                    webhook_id=webhook_id,
                    event_id=event_id,
                    topic=topic[:60],
                    api_version=(headers.get("X-Shopify-API-Version") or "")[:20],
                    triggered_at=triggered,
                    order_ref=_order_ref_of(topic, document)[:40],
                    payload=document,
                    status=status,
                    note=note,
                )
        except IntegrityError:
            same = ShopifyWebhook.objects.filter(connection=connection, webhook_id=webhook_id)
            if event_id:
                same = same | ShopifyWebhook.objects.filter(
                    connection=connection, topic=topic, event_id=event_id
                )
            first = same.order_by("id").first()
            if first is None:
                raise
            return Accepted(first.pk, True)
        if receipt.status == ShopifyWebhook.Status.PENDING:
            enqueue_processing([receipt.pk])
    return Accepted(receipt.pk, False)


def _initial_status(connection: ShopifyConnection, topic: str) -> tuple[str, str]:
    if topic not in TOPICS:
        return ShopifyWebhook.Status.IGNORED, f"topic {topic} is not handled"
    if connection.uninstalled_at is not None and topic not in PRIVACY_TOPICS:
        return ShopifyWebhook.Status.IGNORED, (
            f"not processed: the app was uninstalled from {connection.shop_domain} at "
            f"{connection.uninstalled_at.isoformat()}; kept for reference. Reinstall the app and "
            "enter its new access token in the console to process deliveries again."
        )
    return ShopifyWebhook.Status.PENDING, ""


def enqueue_processing(receipt_ids: list[int]) -> None:
    """Schedule processing. With the database queue the task row joins the caller's transaction
    (durable with the receipt); other backends enqueue after commit (an immediate backend would
    otherwise run the task before the webhook is answered)."""
    from omo.connectors.tasks import process_shopify_webhook

    if not receipt_ids:
        return
    backend = process_shopify_webhook.get_backend()
    if type(backend).__module__.startswith("django_tasks_db"):
        for receipt_id in receipt_ids:
            process_shopify_webhook.enqueue(receipt_id)
        return
    transaction.on_commit(lambda: [process_shopify_webhook.enqueue(i) for i in receipt_ids])
