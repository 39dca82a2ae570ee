"""Webhook tasks: send one delivery; the periodic sweep of lost ones (registered in omo.core.schedule)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def deliver_webhook(delivery_id: int, force: bool = False) -> dict[str, Any]:
    from omo.outgoing_webhooks import delivery

    return delivery.attempt(delivery_id, force=force)


@task()
def sweep_webhook_deliveries() -> dict[str, Any]:
    """Every minute: enqueue again deliveries whose task was lost; fail those that waited too long."""
    from omo.outgoing_webhooks import delivery

    return delivery.sweep()
