"""Background work of the tracking app: server events of bulk ingests, off the request."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from omo.core import waiting


@task()
def record_orders(order_ids: list[int]) -> int:
    """Order Completed for a batch of ingested orders (omo.tracking.server_events.record_orders)."""
    from omo.tracking import server_events

    return server_events.record_orders(order_ids)


@task()
def record_points(entry_ids: list[int]) -> int:
    """Points events for a bulk earn (omo.tracking.server_events.record_points)."""
    from omo.tracking import server_events

    return server_events.record_points(entry_ids)


INTAKE_KEY = 0  # one queue of stored calls for all brands: one waiting task at a time


@task()
def process_intake(key: int = INTAKE_KEY) -> dict[str, int]:
    """Calls stored by the tracking edge → events with identity (omo.tracking.services.process_intakes)."""
    from omo.tracking import services

    counts = services.process_intakes()
    if counts["more"]:
        with transaction.atomic():
            waiting.ensure(process_intake, [key])
    return counts
