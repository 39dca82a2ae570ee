"""Periodic jobs, enqueued by whichever `omo worker` gets there first.

Each job is a django-tasks Task with no arguments and an interval. `tick()` runs in every worker
every few seconds; a conditional UPDATE on PeriodicRun decides which worker enqueues, so a job is
enqueued once per interval however many workers run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from omo.core.models import PeriodicRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task_path: str
    interval: dt.timedelta


JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("loyalty.nightly", "omo.loyalty.tasks.nightly_loyalty_all_brands", dt.timedelta(hours=24)),
    PeriodicJob("inbox.escalate_and_return", "omo.inbox.tasks.escalate_and_return", dt.timedelta(minutes=1)),
    PeriodicJob(
        "inbox.sweep_stuck_messages", "omo.inbox.tasks.sweep_stuck_messages", dt.timedelta(minutes=1)
    ),
    PeriodicJob("customers.purge_expired", "omo.customers.retention.purge_expired", dt.timedelta(hours=24)),
    PeriodicJob(
        "integrations.sweep_webhooks",
        "omo.integrations.tasks.sweep_webhook_deliveries",
        dt.timedelta(minutes=1),
    ),
    # Finds the Shopify connections whose own interval (hours) has passed; this is only how often it looks.
    PeriodicJob(
        "connectors.sync_due_products",
        "omo.connectors.tasks.sync_due_shopify_products",
        dt.timedelta(minutes=10),
    ),
)


def tick(now: dt.datetime | None = None, jobs: tuple[PeriodicJob, ...] = JOBS) -> list[str]:
    """Enqueue every job that is due; returns the names enqueued by this call."""
    now = now or timezone.now()
    enqueued = []
    for job in jobs:
        PeriodicRun.objects.get_or_create(name=job.name)
        due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - job.interval)
        if PeriodicRun.objects.filter(due, name=job.name).update(last_enqueued_at=now):
            import_string(job.task_path).enqueue()
            enqueued.append(job.name)
            logger.info("enqueued periodic job %s", job.name)
    return enqueued
