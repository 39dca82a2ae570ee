"""What every applied delivery shares: its outcome, and the record of the Shopify object it changes.

Every order, customer and product keeps the `updated_at` we last applied (ShopifyRecord), so an
older delivery that arrives after a newer one changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omo.connectors.models import ShopifyConnection, ShopifyRecord, ShopifyWebhook


@dataclass(frozen=True)
class Outcome:
    status: str
    note: str = ""


def locked_record(connection: ShopifyConnection, kind: str, shopify_id: str) -> ShopifyRecord:
    """The record row for this Shopify object, locked for the rest of the transaction."""
    record, _ = ShopifyRecord.objects.get_or_create(
        connection=connection, kind=kind, shopify_id=shopify_id, defaults={"brand_id": connection.brand_id}
    )
    return ShopifyRecord.objects.select_for_update().get(pk=record.pk)


def is_older(incoming: Any, applied: Any) -> bool:
    return incoming is not None and applied is not None and incoming < applied


def stale(kind: str, shopify_id: str, incoming: Any, applied: Any) -> Outcome:
    return Outcome(
        ShopifyWebhook.Status.IGNORED,
        f"stale: {kind} {shopify_id} updated_at {incoming.isoformat()} is older than the applied {applied.isoformat()}",
    )
