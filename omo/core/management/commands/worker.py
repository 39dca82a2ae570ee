"""`omo worker`: run background tasks from every queue, with a heartbeat for /healthz."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from omo.core.worker import DEFAULT_INTERVAL_SECONDS, Heartbeat, default_worker_id


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
            help="seconds to wait before looking again when there is no task (default 1)",
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
        worker_id = options["worker_id"] or default_worker_id()
        db_worker_args = [
            "--queue-name",
            options["queue_name"],
            "--interval",
            str(options["interval"]),
            "--worker-id",
            worker_id,
            "--no-reload",
        ]
        if options["batch"]:
            db_worker_args.append("--batch")
        if options["max_tasks"] is not None:
            db_worker_args += ["--max-tasks", str(options["max_tasks"])]
        if options["no_startup_delay"]:
            db_worker_args.append("--no-startup-delay")

        # db_worker exits through SystemExit on SIGINT/SIGTERM; the heartbeat is removed either way.
        with Heartbeat(worker_id, interval=options["heartbeat_interval"]):
            call_command(
                "db_worker",
                *db_worker_args,
                verbosity=options["verbosity"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
