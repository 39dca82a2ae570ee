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

logger = logging.getLogger(__name__)

CHANNEL = "omo_tasks"
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


def _on_task_saved(sender: type, instance: Any, created: bool, using: str, **kwargs: Any) -> None:
    if created:
        ring(using)


def connect_signals() -> None:
    from django_tasks_db.models import DBTaskResult

    post_save.connect(_on_task_saved, sender=DBTaskResult, dispatch_uid="omo.core.taskwake.ring")


class Bell:
    """What an idle worker waits on: the in-process event and, on PostgreSQL, a LISTEN connection."""

    def __init__(self, using: str = "default") -> None:
        self._listener: Any = None
        settings = connections[using].settings_dict
        if connections[using].vendor == "postgresql":
            try:
                import psycopg

                params = connections[using].get_connection_params()
                params.pop("cursor_factory", None)
                params.pop("context", None)
                params.pop("server_side_binding", None)
                self._listener = psycopg.connect(**params, autocommit=True)
                self._listener.execute(f"LISTEN {CHANNEL}")
            except Exception:  # polling still works; say why the wake-up does not
                logger.exception("cannot LISTEN on %s (%s); polling only", CHANNEL, settings.get("NAME"))
                self._listener = None

    def wait(self, timeout: float) -> bool:
        """Until a task may be waiting (True) or `timeout` seconds passed (False)."""
        if _local_bell.is_set():
            _local_bell.clear()
            return True
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
            except Exception:
                logger.exception("waiting for %s failed; polling only", CHANNEL)
                self.close()
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
