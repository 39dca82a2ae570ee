"""`omo worker`: run background tasks from every queue, with a heartbeat for /healthz."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from omo.core.worker import (
    DEFAULT_INTERVAL_SECONDS,
    Heartbeat,
    WakingWorker,
    default_worker_id,
    keep_connections_open,
)


class Command(BaseCommand):
    help = (
        "Run a background worker for all task queues. Start as many as you need, on one machine or "
        "many; each claims tasks on its own. Stops cleanly on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue-name",
            default="*",
            help="queues to take tasks from, comma-separated; '*' means all (default)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds between looks at the queue when idle (default 1); a new task wakes the "
            "worker at once on PostgreSQL and inside `omo serve --with-worker`",
        )
        parser.add_argument("--batch", action="store_true", help="run every task that is due now, then exit")
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
        parser.add_argument(
            "--worker-id", default=None, help="unique id of this worker (default hostname:pid)"
        )
        parser.add_argument(
            "--heartbeat-interval",
            type=float,
            default=DEFAULT_INTERVAL_SECONDS,
            help=f"seconds between heartbeats (default {DEFAULT_INTERVAL_SECONDS:g})",
        )
        parser.add_argument(
            "--no-startup-delay",
            action="store_true",
            help="start taking tasks at once instead of after a random delay under a second",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keep_connections_open()  # not one new database connection per task
        worker_id = options["worker_id"] or default_worker_id()
        # Django's OutputWrapper writes like the TextIO the stubs ask for.
        logging_command = DbWorkerCommand(stdout=self.stdout, stderr=self.stderr)  # type: ignore[arg-type]
        logging_command.configure_logging(options["verbosity"])
        queues = [name.strip() for name in options["queue_name"].split(",") if name.strip()] or ["*"]
        worker = WakingWorker(
            queue_names=queues,
            interval=options["interval"],
            batch=options["batch"],
            backend_name="default",
            startup_delay=not options["no_startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        # The worker exits through SystemExit on SIGINT/SIGTERM; the heartbeat is removed either way.
        with Heartbeat(worker_id, interval=options["heartbeat_interval"]):
            worker.configure_signals()
            worker.run()
