"""Receiving Shopify webhooks: verify the HMAC on the raw body, store one ShopifyWebhook row (unique
per delivery id and per topic + event id, so retries and the copies of one event are no-ops) with
its processing task in the same transaction, answer 200 within Shopify's 5 seconds.

The same steps serve the ASGI edge (omo/connectors/shopify/edge.py, on the edge parts every
external sender shares, omo/core/edge.py) and the Django view (servers without the edge).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Receiver:
    """What checking a delivery needs of its connection (cached by the edge; no model instance)."""

    connection_id: int
    brand_id: int
    shop_domain: str
    secret: str
    uninstalled_at: dt.datetime | None


@dataclass
class Delivery:
    """One checked delivery, ready to be stored; `receipt_id` and `duplicate` are set by `store`."""

    receiver: Receiver
    webhook_id: str
    event_id: str
    topic: str
    api_version: str
    triggered_at: dt.datetime | None
    order_ref: str
    payload: dict[str, Any]
    status: str
    note: str
    receipt_id: int | None = None
    duplicate: bool = False


def receiver_for(connection_id: int) -> Receiver | None:
    """The connection a delivery may be for: active, or uninstalled (Shopify sends shop/redact 48
    hours after an uninstall, and what arrives is kept for HQ). One HQ switched off receives nothing."""
    connection = (
        ShopifyConnection.objects.filter(pk=connection_id)
        .filter(models.Q(is_active=True) | models.Q(uninstalled_at__isnull=False))
        .only("id", "brand_id", "shop_domain", "secrets", "uninstalled_at")
        .first()
    )
    if connection is None:
        return None
    return Receiver(
        connection.pk,
        connection.brand_id,
        connection.shop_domain,
        connection.secrets.get("webhook_secret", ""),
        connection.uninstalled_at,
    )


def _order_ref_of(topic: str, document: dict[str, Any]) -> str:
    if topic in ORDER_TOPICS:
        value = document.get("id")
    elif topic == "refunds/create":
        value = document.get("order_id")
    else:
        return ""
    return str(value) if value not in (None, "") else ""


def check_delivery(receiver: Receiver, headers: Mapping[str, str], raw_body: bytes) -> Delivery:
    """Verify one delivery: HMAC on the raw body, the headers, the JSON. WebhookRefused says why not.

    `headers` maps lower-case header names to values (what the edge reads off ASGI; Django's
    request.headers answers lower-case names too)."""
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise WebhookRefused(413, "payload_too_large", f"the body is larger than {MAX_WEBHOOK_BYTES} bytes")
    if not signature_matches(receiver.secret, raw_body, headers.get("x-shopify-hmac-sha256", "")):
        raise WebhookRefused(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    topic = (headers.get("x-shopify-topic") or "").strip()
    webhook_id = (headers.get("x-shopify-webhook-id") or "").strip()
    event_id = (headers.get("x-shopify-event-id") or "").strip()
    if not topic:
        raise WebhookRefused(400, "missing_header", "X-Shopify-Topic is required")
    if not webhook_id or len(webhook_id) > 100:
        raise WebhookRefused(
            400, "missing_header", "X-Shopify-Webhook-Id is required (at most 100 characters)"
        )
    if len(event_id) > 100:
        raise WebhookRefused(400, "bad_header", "X-Shopify-Event-Id is longer than 100 characters")
    domain = (headers.get("x-shopify-shop-domain") or "").strip().lower()
    if domain and domain != receiver.shop_domain:
        raise WebhookRefused(
            400, "wrong_shop", f"X-Shopify-Shop-Domain {domain} is not {receiver.shop_domain}"
        )
    try:
        triggered = mapping.timestamp({"t": headers.get("x-shopify-triggered-at")}, "t")
    except mapping.MappingError as exc:
        raise WebhookRefused(400, "bad_header", f"X-Shopify-Triggered-At: {exc.message}") from exc
    try:
        document = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRefused(400, "malformed", f"body is not JSON: {exc}"[:200]) from exc
    if not isinstance(document, dict):
        raise WebhookRefused(400, "malformed", "body must be a JSON object")
    status, note = _initial_status(receiver, topic)
    return Delivery(
        receiver=receiver,
        webhook_id=webhook_id,
        event_id=event_id,
        topic=topic[:60],
        api_version=(headers.get("x-shopify-api-version") or "")[:20],
        triggered_at=triggered,
        order_ref=_order_ref_of(topic, document)[:40],
        payload=document,
        status=status,
        note=note,
    )


def store(deliveries: list[Delivery]) -> None:
    """Store checked deliveries, each with its processing task, in one transaction. A delivery
    already stored (a retry, or another subscription's copy of the event) is a no-op that names the
    first receipt."""
    pending: list[int] = []
    with transaction.atomic():
        for delivery in deliveries:
            _store_one(delivery)
            if not delivery.duplicate and delivery.status == ShopifyWebhook.Status.PENDING:
                pending.append(delivery.receipt_id or 0)
        enqueue_processing(pending)


def _store_one(delivery: Delivery) -> None:
    receiver = delivery.receiver
    try:
        with transaction.atomic():
            receipt = ShopifyWebhook.objects.create(
                brand_id=receiver.brand_id,
                connection_id=receiver.connection_id,
                webhook_id=delivery.webhook_id,
                event_id=delivery.event_id,
                topic=delivery.topic,
                api_version=delivery.api_version,
                triggered_at=delivery.triggered_at,
                order_ref=delivery.order_ref,
                payload=delivery.payload,
                status=delivery.status,
                note=delivery.note,
            )
    except IntegrityError:
        same = ShopifyWebhook.objects.filter(
            connection_id=receiver.connection_id, webhook_id=delivery.webhook_id
        )
        if delivery.event_id:
            same = same | ShopifyWebhook.objects.filter(
                connection_id=receiver.connection_id, topic=delivery.topic, event_id=delivery.event_id
            )
        first = same.order_by("id").first()
        if first is None:
            raise
        delivery.receipt_id, delivery.duplicate = first.pk, True
        return
    delivery.receipt_id = receipt.pk


def store_batch(items: list[tuple[int, list[Delivery]]]) -> list[int]:
    """The edge's group commit: the deliveries of many requests in one transaction."""
    store([delivery for _, deliveries in items for delivery in deliveries])
    return []  # processing is enqueued in the transaction (or after its commit)


def accept_webhook(connection_id: int, *, headers: Mapping[str, str], raw_body: bytes) -> Accepted:
    """Verify and store one delivery (with its processing task): the Django view's path, for servers
    without the ASGI edge (the test client, runserver). WebhookRefused says why not."""
    receiver = receiver_for(connection_id)
    if receiver is None:
        raise WebhookRefused(404, "unknown_connection", "no active Shopify connection with this id")
    delivery = check_delivery(receiver, headers, raw_body)
    store([delivery])
    return Accepted(delivery.receipt_id or 0, delivery.duplicate)


def _initial_status(receiver: Receiver, topic: str) -> tuple[str, str]:
    if topic not in TOPICS:
        return ShopifyWebhook.Status.IGNORED, f"topic {topic} is not handled"
    if receiver.uninstalled_at is not None and topic not in PRIVACY_TOPICS:
        return ShopifyWebhook.Status.IGNORED, (
            f"not processed: the app was uninstalled from {receiver.shop_domain} at "
            f"{receiver.uninstalled_at.isoformat()}; kept for reference. Reinstall the app and "
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
