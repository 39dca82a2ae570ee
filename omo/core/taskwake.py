"""Waking idle workers as soon as a task is enqueued, instead of at their next poll.

django-tasks' database worker looks for work, and when there is none sleeps `--interval` seconds
(default 1) before looking again: a customer's message would wait up to a second before anyone
processes it. Here every new task row also rings a bell:

- on PostgreSQL a `NOTIFY omo_tasks` in the enqueueing transaction (delivered when it commits,
  dropped if it rolls back); each `omo worker` LISTENs on its own connection;
- in-process, a threading.Event, for a worker running inside the web server (`omo serve
  --with-worker`, how `omo demo` runs on the embedded default).

The bell only shortens the wait: a worker still polls every interval, so a lost notification
(a worker restarting, a NOTIFY from another tool) costs latency, never a task.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import connections
from django.db.models.signals import post_save
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

CHANNEL = "omo_tasks"
RELISTEN_AFTER = 30  # seconds before a lost LISTEN connection is tried again
LOCAL_CHECK = 0.5  # seconds between looks at the in-process bell while LISTENing

_local_bell = threading.Event()


def ring(using: str = "default") -> None:
    """Wake workers in this process now and (PostgreSQL) in every process once the transaction commits."""
    _local_bell.set()
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {CHANNEL}")


def ring_locally() -> None:
    """Wake a worker of this process (used to make it notice that it should stop)."""
    _local_bell.set()


def _on_task_saved(
    sender: type[DBTaskResult[..., object]],
    instance: DBTaskResult[..., object],
    created: bool,
    using: str,
    **kwargs: Any,
) -> None:
    if created:
        ring(using)


def connect_signals() -> None:
    post_save.connect(_on_task_saved, sender=DBTaskResult, dispatch_uid="omo.core.taskwake.ring")


class Bell:
    """What an idle worker waits on: the in-process event and, on PostgreSQL, a LISTEN connection."""

    def __init__(self, using: str = "default") -> None:
        self._using = using
        self._listener: Any = None
        self._next_attempt = 0.0
        self._listen()

    def _listen(self) -> None:
        """(Re)open the LISTEN connection on PostgreSQL; on failure, polling goes on and it retries later."""
        connection = connections[self._using]
        if connection.vendor != "postgresql" or time.monotonic() < self._next_attempt:
            return
        try:
            import psycopg

            params = connection.get_connection_params()
            for key in ("cursor_factory", "context", "server_side_binding"):
                params.pop(key, None)
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        except Exception:
            logger.exception(
                "cannot LISTEN on %s; polling only, trying again in %d s", CHANNEL, RELISTEN_AFTER
            )
            self.close()
            self._next_attempt = time.monotonic() + RELISTEN_AFTER

    def wait(self, timeout: float) -> bool:
        """Until a task may be waiting (True) or `timeout` seconds passed (False)."""
        if _local_bell.is_set():
            _local_bell.clear()
            return True
        if self._listener is None:
            self._listen()
        if self._listener is None:
            woken = _local_bell.wait(timeout)
            _local_bell.clear()
            return woken
        # In slices, so that a ring from this process (a stop request) is noticed too.
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                woken = any(
                    True for _ in self._listener.notifies(timeout=min(left, LOCAL_CHECK), stop_after=1)
                )
            except Exception:  # the database went away: poll, and LISTEN again a little later
                logger.exception("waiting for %s failed; polling until it can LISTEN again", CHANNEL)
                self.close()
                self._next_attempt = time.monotonic() + RELISTEN_AFTER
                return False
            if woken or _local_bell.is_set():
                _local_bell.clear()
                return True
        return False

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None
