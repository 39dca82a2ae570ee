"""Shopify background work: apply one stored webhook; sync a store's products; queue the syncs that
are due (the periodic job in registered in omo.core.schedule)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def process_shopify_webhook(receipt_id: int) -> dict[str, Any]:
    from omo.connectors import services

    return {"receipt_id": receipt_id, "status": services.process_webhook(receipt_id)}


@task()
def sync_shopify_products(connection_id: int) -> dict[str, Any]:
    from omo.connectors import services
    from omo.connectors.models import ShopifyConnection

    connection = ShopifyConnection.objects.select_related("brand").filter(pk=connection_id).first()
    if connection is None:
        return {"connection_id": connection_id, "error": "no such connection"}
    return {"connection_id": connection_id, **services.sync_products(connection)}


@task()
def sync_due_shopify_products() -> dict[str, Any]:
    """Every few minutes (registered in omo.core.schedule): queue each connection whose sync interval has passed."""
    from omo.connectors import services

    return services.sync_due_products()
