"""Periodic jobs, enqueued by whichever `omo worker` gets there first.

Each job is a django-tasks Task with no arguments and an interval, registered by the app that owns
it (`register`, from its AppConfig.ready), so the core names no app above it. `tick()` runs in every worker
every few seconds; a conditional UPDATE on PeriodicRun decides which worker enqueues, so a job is
enqueued once per interval however many workers run.
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

    @property
    def task_path(self) -> str:
        return self.task.module_path


_jobs: dict[str, PeriodicJob] = {}


def register(name: str, task: Task[[], Any], interval: dt.timedelta) -> None:
    """Run `task` every `interval` (each app registers its own jobs in its AppConfig.ready)."""
    existing = _jobs.get(name)
    if existing is not None and existing.task.module_path != task.module_path:
        raise ValueError(f"periodic job {name!r} is already {existing.task_path}")
    _jobs[name] = PeriodicJob(name, task, interval)


def registered() -> tuple[PeriodicJob, ...]:
    """Every registered job, by name."""
    return tuple(_jobs[name] for name in sorted(_jobs))


def tick(now: dt.datetime | None = None, jobs: tuple[PeriodicJob, ...] | None = None) -> list[str]:
    """Enqueue every job that is due (of `jobs`, or of all registered); returns the names enqueued."""
    now = now or timezone.now()
    enqueued = []
    for job in registered() if jobs is None else jobs:
        PeriodicRun.objects.get_or_create(name=job.name)
        due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - job.interval)
        if PeriodicRun.objects.filter(due, name=job.name).update(last_enqueued_at=now):
            job.task.enqueue()
            enqueued.append(job.name)
            logger.info("enqueued periodic job %s", job.name)
    return enqueued
