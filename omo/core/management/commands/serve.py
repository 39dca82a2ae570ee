"""`omo serve`: the web server (HTTP and WebSocket over ASGI) on uvicorn with uvloop and httptools."""

from __future__ import annotations

import signal
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

APPLICATION = "config.asgi:application"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Run the web server: console, clerk app, shop, API, webhooks and WebSockets in one process."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
        )
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        parser.add_argument(
            "--reload", action="store_true", help="restart when the code changes (development)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="server processes sharing the port (default 1; use more only with PostgreSQL and Redis)",
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="also run a task worker inside this process (the embedded set-up: with the in-memory "
            "channel layer only a worker in the server's own process reaches its WebSockets)",
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="trust X-Forwarded-For/-Proto from the proxy in front (see FORWARDED_ALLOW_IPS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import uvicorn

        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
        # it found; make that handler a clean exit instead of a traceback or death by signal.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _exit_cleanly)

        reload = options["reload"]
        embedded = None
        if options["with_worker"]:
            if reload or options["workers"] != 1:
                raise CommandError("--with-worker runs with one server process and without --reload")
            from omo.core.worker import EmbeddedWorker

            embedded = EmbeddedWorker().start()
            settings.OMO_WORKER_EVENTS_LIVE = True  # its events reach this server's sockets
        # WhiteNoise serves static files from the app folders; an empty STATIC_ROOT keeps it quiet.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        try:
            self._run(uvicorn, options, reload)
        finally:
            if embedded is not None:
                embedded.stop()

    def _run(self, uvicorn: Any, options: dict[str, Any], reload: bool) -> None:
        uvicorn.run(
            APPLICATION,
            host=options["host"],
            port=options["port"],
            reload=reload,
            reload_dirs=[str(settings.BASE_DIR / "config"), str(settings.BASE_DIR / "omo")]
            if reload
            else None,
            workers=None if reload else options["workers"],
            loop="uvloop",
            http="httptools",
            # The sans-I/O protocol on the maintained websockets API (the legacy one is deprecated and can
            # leave a refused handshake's application waiting for ever, which blocks shutdown).
            ws="websockets-sansio",
            # Channels' router answers only http and websocket; there is nothing to do at lifespan.
            lifespan="off",
            proxy_headers=options["proxy_headers"],
            log_level=str(settings.LOGGING["root"]["level"]).lower(),  # type: ignore[index]
            server_header=False,
        )
