"""Background work of the commerce connections: apply one stored Shopify webhook; sync a store's
products; queue the syncs that are due (a periodic job registered in omo.core.schedule).

The tasks stay in this module whatever package does the work: a queued task is stored under its
dotted path (omo.connectors.tasks.…), so moving them would strand the rows already waiting.
"""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def process_shopify_webhook(receipt_id: int) -> dict[str, Any]:
    from omo.connectors.shopify import processing

    return {"receipt_id": receipt_id, "status": processing.process_webhook(receipt_id)}


@task()
def sync_shopify_products(connection_id: int) -> dict[str, Any]:
    from omo.connectors.models import ShopifyConnection
    from omo.connectors.shopify import products

    connection = ShopifyConnection.objects.select_related("brand").filter(pk=connection_id).first()
    if connection is None:
        return {"connection_id": connection_id, "error": "no such connection"}
    return {"connection_id": connection_id, **products.sync_products(connection)}


@task()
def sync_due_shopify_products() -> dict[str, Any]:
    """Every few minutes (registered in omo.core.schedule): queue each connection whose sync interval has passed."""
    from omo.connectors.shopify import products

    return products.sync_due_products()
