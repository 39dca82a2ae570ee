"""Worker liveness: each `omo worker` process keeps one WorkerHeartbeat row fresh.

The row is upserted by worker id (`hostname:pid`) every few seconds from a background thread and
deleted when the worker exits cleanly. `/healthz` reads the freshest row; a worker that crashed
leaves a row that simply goes stale.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.utils import timezone

from omo.core.models import WorkerHeartbeat

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
