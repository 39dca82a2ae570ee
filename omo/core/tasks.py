"""Background tasks that belong to the core app."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django_tasks import task

from omo.core.models import WorkerHeartbeat

PROBE_CACHE_PREFIX = "omo:probe:"
PROBE_TTL_SECONDS = 3600


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
