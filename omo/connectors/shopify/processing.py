"""Applying stored deliveries, one task per delivery: each topic's handler runs in its own
transaction; a refused document marks the delivery failed with the reason, to retry from the console.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from omo.catalog.services import CatalogError
from omo.commerce.services import OrderError
from omo.connectors.models import ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify.connections import apply_uninstalled
from omo.connectors.shopify.customers import apply_customer
from omo.connectors.shopify.mapping import MappingError
from omo.connectors.shopify.orders import apply_order, apply_refund
from omo.connectors.shopify.privacy import apply_privacy
from omo.connectors.shopify.products import apply_product_webhook
from omo.connectors.shopify.records import Outcome
from omo.connectors.shopify.webhooks import (
    CUSTOMER_TOPICS,
    ORDER_TOPICS,
    PRIVACY_TOPICS,
    PRODUCT_TOPICS,
    UNINSTALLED_TOPIC,
    enqueue_processing,
)
from omo.core import audit
from omo.core.audit import Actor
from omo.customers.services import CustomerError

logger = logging.getLogger(__name__)


def _claim(receipt_id: int) -> ShopifyWebhook | None:
    rows = ShopifyWebhook.objects.select_related("connection__brand").filter(
        pk=receipt_id, status=ShopifyWebhook.Status.PENDING
    )
    if db_connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def process_webhook(receipt_id: int) -> str:
    """Apply one pending delivery; returns its new status ("skipped" when not pending or taken)."""
    with transaction.atomic():
        receipt = _claim(receipt_id)
        if receipt is None:
            return "skipped"
        handler = HANDLERS.get(receipt.topic)
        try:
            with transaction.atomic():
                outcome = (
                    handler(receipt.connection, receipt)
                    if handler
                    else Outcome("ignored", "topic not handled")
                )
        except (MappingError, OrderError, CatalogError, CustomerError) as exc:
            outcome = Outcome(ShopifyWebhook.Status.FAILED, f"{exc.field}: {exc.message}")
        except Exception:
            logger.exception("processing Shopify webhook %s failed", receipt_id)
            outcome = Outcome(ShopifyWebhook.Status.FAILED, traceback.format_exc()[-3000:])
        receipt.status = outcome.status
        receipt.note = outcome.note[:4000]
        receipt.processed_at = timezone.now() if outcome.status != ShopifyWebhook.Status.WAITING else None
        receipt.save(update_fields=["status", "note", "processed_at"])
        return outcome.status


def process_pending(connection: ShopifyConnection) -> dict[str, int]:
    """Process every pending delivery of a connection, oldest first, including refunds an order
    woke up on the way (the console's "retry", the command line, tests)."""
    counts: dict[str, int] = {}
    for _ in range(10):
        ids = list(
            ShopifyWebhook.objects.filter(connection=connection, status=ShopifyWebhook.Status.PENDING)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        if not ids:
            break
        for receipt_id in ids:
            status = process_webhook(receipt_id)
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def retry_failed(connection: ShopifyConnection, *, actor: Actor) -> int:
    ids = list(
        ShopifyWebhook.objects.filter(connection=connection, status=ShopifyWebhook.Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    ShopifyWebhook.objects.filter(pk__in=ids).update(
        status=ShopifyWebhook.Status.PENDING, note="", processed_at=None
    )
    enqueue_processing(ids)
    if ids:
        audit.record(actor, "shopify.webhooks_retried", connection, count=len(ids))
    return len(ids)


HANDLERS: dict[str, Callable[[ShopifyConnection, ShopifyWebhook], Outcome]] = {
    **{topic: apply_order for topic in ORDER_TOPICS},
    "refunds/create": apply_refund,
    **{topic: apply_customer for topic in CUSTOMER_TOPICS},
    **{topic: apply_product_webhook for topic in PRODUCT_TOPICS},
    **{topic: apply_privacy for topic in PRIVACY_TOPICS},
    UNINSTALLED_TOPIC: apply_uninstalled,
}
