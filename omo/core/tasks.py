"""Background tasks that belong to the core app."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django_tasks import task

from omo.core.models import WorkerHeartbeat

PROBE_CACHE_PREFIX = "omo:probe:"
PROBE_TTL_SECONDS = 3600
FOLLOWUP_BATCH = 500
FOLLOWUP_PASSES = 20


def probe_cache_key(token: str) -> str:
    return f"{PROBE_CACHE_PREFIX}{token}"


@task()
def heartbeat_probe(token: str) -> dict[str, Any]:
    """Proves that a worker picks up work: stores when it ran under `token` and says who ran it.

    Enqueue it and read `probe_cache_key(token)` (or the task result) to check the whole path
    from enqueue through the task table to a worker.
    """
    ran_at = timezone.now().isoformat()
    cache.set(probe_cache_key(token), ran_at, PROBE_TTL_SECONDS)
    workers = sorted(WorkerHeartbeat.objects.values_list("worker_id", flat=True))
    return {"token": token, "ran_at": ran_at, "workers": workers}


@task()
def run_import(job_id: int) -> dict[str, Any]:
    """Run a queued CSV import (omo.core.imports) and report how it ended."""
    from omo.core.imports import run_job

    job = run_job(job_id)
    return {
        "job_id": job.pk,
        "status": job.status,
        "total_rows": job.total_rows,
        "applied_rows": job.applied_rows,
        "error_rows": job.error_rows,
    }


@task()
def deliver_followups() -> dict[str, Any]:
    """Deliver the follow-ups of domain events that were not delivered right after their commit
    (the process was killed, or the subscriber failed): periodic, see omo.core.schedule."""
    from omo.core import events

    delivered = failed = 0
    # A bounded number of passes keeps one run short; what is left is due at the next run.
    for _ in range(FOLLOWUP_PASSES):
        done, broken = events.deliver_due(limit=FOLLOWUP_BATCH)
        delivered += done
        failed += broken
        if done + broken < FOLLOWUP_BATCH:
            break
    return {"delivered": delivered, "failed": failed}
