"""Periodic jobs, enqueued by whichever `omo worker` gets there first.

Each job is a django-tasks Task with no arguments and an interval, registered by the app that owns
it (`register`, from its AppConfig.ready), so the core names no app above it. `tick()` runs in every worker
every few seconds; a conditional UPDATE on PeriodicRun decides which worker enqueues, so a job is
enqueued once per interval however many workers run.

A daily job can name a local time of day (`at`, in settings.TIME_ZONE): it is then enqueued once a
day at the first tick at or after that time, not 24 hours after whenever the first worker started.
Heavy passes (the nightly loyalty pass, the retention purge) thus run at night, when no chat
waits behind them for a worker.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django_tasks.base import Task

from omo.core.models import PeriodicRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task[[], Any]
    interval: dt.timedelta
    at: dt.time | None = None

    @property
    def task_path(self) -> str:
        return self.task.module_path

    def last_due(self, now: dt.datetime) -> dt.datetime:
        """The job is due when it was last enqueued before this moment."""
        if self.at is None:
            return now - self.interval
        local = timezone.localtime(now)
        today = local.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        return today if local >= today else today - dt.timedelta(days=1)


_jobs: dict[str, PeriodicJob] = {}


def register(name: str, task: Task[[], Any], interval: dt.timedelta, *, at: dt.time | None = None) -> None:
    """Run `task` every `interval` (each app registers its own jobs in its AppConfig.ready); with
    `at`, once a day at that local time (`interval` must then be a day)."""
    existing = _jobs.get(name)
    if existing is not None and existing.task.module_path != task.module_path:
        raise ValueError(f"periodic job {name!r} is already {existing.task_path}")
    if at is not None and interval != dt.timedelta(days=1):
        raise ValueError(f"periodic job {name!r}: a time of day is for daily jobs")
    _jobs[name] = PeriodicJob(name, task, interval, at)


def registered() -> tuple[PeriodicJob, ...]:
    """Every registered job, by name."""
    return tuple(_jobs[name] for name in sorted(_jobs))


def tick(now: dt.datetime | None = None, jobs: tuple[PeriodicJob, ...] | None = None) -> list[str]:
    """Enqueue every job that is due (of `jobs`, or of all registered); returns the names enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in registered() if jobs is None else jobs:
        # A job with a time of day waits for that time on a new installation.
        PeriodicRun.objects.get_or_create(
            name=job.name, defaults={"last_enqueued_at": now if job.at is not None else None}
        )
        last_due = job.last_due(now)
        due = Q(last_enqueued_at__isnull=True) | (
            Q(last_enqueued_at__lt=last_due) if job.at is not None else Q(last_enqueued_at__lte=last_due)
        )
        if PeriodicRun.objects.filter(due, name=job.name).update(last_enqueued_at=now):
            job.task.enqueue()
            enqueued.append(job.name)
            logger.info("enqueued periodic job %s", job.name)
    return enqueued
