"""The task worker: django-tasks' database worker loop, woken at once by new tasks, with a heartbeat.

Liveness: each worker keeps one WorkerHeartbeat row fresh. The row is upserted by worker id
(`hostname:pid`) every few seconds from a background thread and deleted when the worker exits
cleanly. `/healthz` reads the freshest row; a worker that crashed leaves a row that simply goes stale.

Wake-up: `WakingWorker` runs the same claim-and-run steps as django_tasks_db's `db_worker`, but when
the queue is empty it waits on `omo.core.taskwake.Bell` (PostgreSQL NOTIFY, or an in-process event)
instead of sleeping, so a new task starts within milliseconds; the interval stays as a poll.
Follow-ups: when idle, at most every `FOLLOWUP_PASS_SECONDS`, the loop delivers the follow-ups of
domain events that were not delivered right after their commit (omo.core.events.deliver_due: the
publishing process died, or a subscriber failed and its backoff has passed). Rows another worker is
delivering are skipped, so any number of workers may pass at once.
Periodic jobs: when idle, at most every `SCHEDULE_TICK_SECONDS`, the loop enqueues the registered
periodic jobs that are due (omo.core.schedule.tick: a conditional UPDATE decides which worker
enqueues, so each runs once per interval however many workers there are). `OMO_PERIODIC_JOBS=0`
turns this off (the test suite does, and tests that need it turn it on).
`EmbeddedWorker` runs one in a thread of the web server (embedded set-up: SQLite and the in-memory
channel layer, where only a worker in the server's own process can reach its sockets).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import OperationalError, close_old_connections, connection, connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from omo.core import events, schedule
from omo.core.models import WorkerHeartbeat
from omo.core.taskwake import Bell

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
# db_worker refuses worker ids of 64 characters or more.
MAX_WORKER_ID_LENGTH = 63
# Rows of workers that died without cleaning up are removed once they are this old.
FORGET_DEAD_AFTER = timedelta(days=1)


def default_worker_id() -> str:
    """`hostname:pid`, with the host name shortened so the id fits db_worker's limit."""
    pid = str(os.getpid())
    host = socket.gethostname()[: MAX_WORKER_ID_LENGTH - len(pid) - 1]
    return f"{host}:{pid}"


def beat(worker_id: str, *, started_at: datetime, now: datetime | None = None) -> WorkerHeartbeat:
    """Record that `worker_id` is alive now (insert or update its row)."""
    now = now or timezone.now()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"last_seen_at": now},
        create_defaults={
            "hostname": socket.gethostname()[:200],
            "pid": os.getpid(),
            "started_at": started_at,
            "last_seen_at": now,
        },
    )
    return heartbeat


def forget(worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def forget_dead_workers(now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - FORGET_DEAD_AFTER
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen_at__lt=cutoff).delete()
    return deleted


def last_seen_seconds(now: datetime | None = None) -> float | None:
    """Seconds since the freshest heartbeat of any worker, or None when no worker ever beat."""
    latest = WorkerHeartbeat.objects.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    if latest is None:
        return None
    return max(0.0, ((now or timezone.now()) - latest).total_seconds())


class Heartbeat:
    """Context manager: beat once at once, then every `interval` seconds, and forget on exit.

    The first beat happens before `__enter__` returns, so a worker is visible to /healthz as soon
    as it starts taking tasks. A failed beat (database briefly unavailable or locked) is logged
    and retried at the next interval; it never stops the worker.
    """

    def __init__(self, worker_id: str, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {worker_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        forget_dead_workers()
        beat(self.worker_id, started_at=self.started_at)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)
        try:
            forget(self.worker_id)
        except Exception:
            logger.exception("could not remove the heartbeat of worker %s", self.worker_id)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    close_old_connections()
                    beat(self.worker_id, started_at=self.started_at)
                except Exception:
                    logger.exception("heartbeat of worker %s failed; retrying", self.worker_id)
        finally:
            # This thread has its own database connection; close it rather than leak it.
            connection.close()


WORKER_CONN_MAX_AGE = 300  # seconds an `omo worker` process keeps a database connection


def keep_connections_open(max_age: int = WORKER_CONN_MAX_AGE) -> None:
    """Let this process (an `omo worker`) keep its database connections between tasks.

    The worker loop ends each task as Django ends a request (`close_old_connections`). With the web
    default `CONN_MAX_AGE = 0` that closed the connection after every task, so the next claim
    opened a new one: 10-25 ms of PostgreSQL connection set-up in front of every task, measured on
    the reference machine, which a customer's message waited through on its way to the clerk. A
    configured longer age is kept. Connections are checked before reuse (one `SELECT 1` after an
    error), so a restarted database costs one reconnect, not a crashed worker. Call it before the
    first query: the settings are shared by every connection of the process.
    """
    for alias in connections:
        settings_dict = connections.settings[alias]
        if settings_dict.get("CONN_MAX_AGE") is not None and settings_dict["CONN_MAX_AGE"] < max_age:
            settings_dict["CONN_MAX_AGE"] = max_age
        settings_dict["CONN_HEALTH_CHECKS"] = True


# Seconds before a worker looks again when the only ready task was locked (an edge committing input
# for it; that takes a few milliseconds).
LOCKED_TASK_RETRY = 0.005
# Seconds between an idle worker's passes over the follow-ups that are due (one indexed read when
# there are none). A row is first due FIRST_RETRY_AFTER after its event, so a lost follow-up runs
# within about 45 s.
FOLLOWUP_PASS_SECONDS = 15.0
FOLLOWUP_BATCH = 500
FOLLOWUP_PASS_BUDGET = 5.0  # seconds a pass may go on while full batches keep coming
# Seconds between an idle worker's looks at the periodic jobs (the shortest interval is a minute).
SCHEDULE_TICK_SECONDS = 10.0


class WakingWorker(Worker):
    """db_worker's loop with the idle sleep replaced by a wait that a new task cuts short."""

    def __init__(
        self,
        *,
        bell: Bell | None = None,
        followup_pass_seconds: float | None = FOLLOWUP_PASS_SECONDS,
        schedule_tick_seconds: float | None = SCHEDULE_TICK_SECONDS,
        **options: object,
    ) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._bell = bell
        self.skipped = False
        self._followup_pass_seconds = followup_pass_seconds
        self._next_followup_pass = 0.0  # the first idle moment
        self._schedule_tick_seconds = schedule_tick_seconds
        self._next_schedule_tick = 0.0

    @classmethod
    def for_all_queues(cls, worker_id: str, *, interval: float = 1.0, **options: Any) -> WakingWorker:
        """A worker taking tasks from every queue until stopped (the embedded one; tests)."""
        defaults: dict[str, Any] = {
            "queue_names": ["*"],
            "batch": False,
            "backend_name": "default",
            "startup_delay": False,
            "max_tasks": None,
            "excluded_queue_names": [],
        }
        return cls(worker_id=worker_id, interval=interval, **{**defaults, **options})

    def enqueue_due_jobs(self) -> list[str]:
        """Enqueue the periodic jobs that are due, if this worker's last look is long enough ago."""
        if (
            self._schedule_tick_seconds is None
            or not settings.OMO_PERIODIC_JOBS
            or time.monotonic() < self._next_schedule_tick
        ):
            return []
        self._next_schedule_tick = time.monotonic() + self._schedule_tick_seconds
        try:
            return schedule.tick()
        except Exception:  # the database may be briefly away; the next look tries again
            logger.exception("worker %s could not enqueue the due periodic jobs", self.worker_id)
            return []

    def deliver_followups(self) -> tuple[int, int]:
        """Deliver the follow-ups that are due, if this worker's last pass is long enough ago."""
        if self._followup_pass_seconds is None or time.monotonic() < self._next_followup_pass:
            return 0, 0
        self._next_followup_pass = time.monotonic() + self._followup_pass_seconds
        delivered = failed = 0
        until = time.monotonic() + FOLLOWUP_PASS_BUDGET
        try:
            # A backlog (after an outage) goes in batches, but tasks are not kept waiting long.
            while True:
                done, broken = events.deliver_due(limit=FOLLOWUP_BATCH)
                delivered, failed = delivered + done, failed + broken
                if done + broken < FOLLOWUP_BATCH or time.monotonic() > until or not self.running:
                    break
        except Exception:  # the database may be briefly away; the next pass tries again
            logger.exception("worker %s could not deliver the due follow-ups", self.worker_id)
        if delivered or failed:
            logger.info("worker %s delivered %d follow-ups, %d failed", self.worker_id, delivered, failed)
        return delivered, failed

    def _claim(self) -> tuple[bool, DBTaskResult[Any, Any] | None]:
        """(looked, task): claim the next ready task, if any; a locked SQLite database is not an error.

        `self.skipped` says whether a ready task was passed over because its row was locked: the
        ingest edges share-lock the task they add input for until that input commits, and no bell
        rings for a task that already exists, so the worker looks again shortly, not at its interval."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            if connections[tasks.db].vendor == "postgresql":
                # A claim lost in a crash only puts the task back in the queue (tasks run at least
                # once anyway), so this commit need not wait for the disk: one fsync less per task.
                with connections[tasks.db].cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            try:
                task_result = tasks.get_locked()
            except OperationalError as exc:
                if is_locked_database_exception(exc):
                    return False, None
                raise
            if task_result is not None:
                task_result.claim(self.worker_id)
            self.skipped = task_result is None and tasks.exists()
        return True, task_result

    def run(self) -> None:
        logger.info("worker %s taking tasks from %s", self.worker_id, ",".join(self.queue_names))
        bell = self._bell or Bell()
        try:
            if self.startup_delay and self.interval:
                time.sleep(random.random())  # noqa: S311 - spreads the first polls of many workers
            while self.running:
                close_old_connections()
                looked, task_result = self._claim()
                if task_result is not None:
                    self.run_task(task_result)
                    if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                        return
                    continue  # there may be more: look again at once
                if self.batch and looked:
                    return
                self.deliver_followups()
                if self.enqueue_due_jobs():
                    continue  # take them at once
                close_old_connections()
                if self.running:
                    bell.wait(LOCKED_TASK_RETRY if self.skipped else self.interval)
        finally:
            if self._bell is None:
                bell.close()


class EmbeddedWorker:
    """A WakingWorker on a daemon thread of this process, with its heartbeat; `stop()` ends both."""

    def __init__(
        self, *, interval: float = 1.0, heartbeat_interval: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        self.worker_id = default_worker_id()
        self._bell = Bell()
        self._worker = WakingWorker.for_all_queues(self.worker_id, interval=interval, bell=self._bell)
        self._heartbeat = Heartbeat(self.worker_id, interval=heartbeat_interval)
        self._thread = threading.Thread(target=self._run, name=f"worker {self.worker_id}", daemon=True)

    def start(self) -> EmbeddedWorker:
        self._heartbeat.__enter__()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._worker.run()
        except Exception:
            logger.exception("the embedded worker stopped")
        finally:
            connection.close()

    def stop(self, timeout: float = 30) -> None:
        self._worker.running = False
        from omo.core.taskwake import ring_locally

        ring_locally()
        self._thread.join(timeout)
        self._bell.close()
        self._heartbeat.stop()
