"""`omo demo`: everything for a first look on one machine.

Migrates, loads the small demo data set when the database has no brand yet, then runs the web
server (`omo serve`) and a worker and prints where to look. On the embedded default (in-memory
channel layer) the worker runs inside the server (`omo serve --with-worker`); with Redis it is a
separate `omo worker` process. Ctrl-C or SIGTERM stops everything; if a child dies, the others are
stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from argparse import ArgumentParser
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from omo.core.management.commands.serve import DEFAULT_HOST, DEFAULT_PORT
from omo.core.models import Brand
from omo.devtools.demo_facts import DEMO_SLUG
from omo.devtools.demo_info import admin_login, demo_logins, demo_story
from omo.devtools.seed_story import extend_roster

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0

PAGES = [
    ("Console", "/console/"),
    ("Clerk app", "/clerk/"),
    ("Phone simulator", "/dev/simulator/"),
    ("Shop", "/shop/"),
    ("Admin", "/admin/"),
    ("API docs", "/api/v1/docs"),
    ("Health", "/healthz"),
]


# Talk to our own server directly, whatever proxy the environment names.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Stop(Exception):
    """Raised from the signal handler to leave the supervision loop."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if `omo demo` itself is killed, so nothing is left running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def format_logins(logins: Any, base_url: str = "") -> list[str]:
    """One line per login. demo_logins() gives [{"role", "username", "password", "url"}]; other
    simple shapes (a string, a mapping, a list of strings or tuples) are printed as they come."""
    if not logins:
        return []
    if isinstance(logins, str):
        return [logins]
    if isinstance(logins, Mapping):
        return [f"{key}: {_format_login(value, base_url)}" for key, value in logins.items()]
    if isinstance(logins, Iterable):
        return [_format_login(login, base_url) for login in logins]
    return [str(logins)]


def _format_login(login: Any, base_url: str) -> str:
    if isinstance(login, Mapping) and {"username", "password"} <= login.keys():
        line = f"{login['username']} / {login['password']}"
        if login.get("role"):
            line = f"{login['role']}: {line}"
        if login.get("url"):
            line += f"  ->  {base_url}{login['url']}"
        return line
    if isinstance(login, Mapping):
        return "  ".join(f"{key}: {value}" for key, value in login.items())
    if isinstance(login, list | tuple):
        return "  ".join(str(part) for part in login)
    return str(login)


def _local_host(host: str) -> str:
    """Where to reach a server bound to `host` from this machine."""
    if host in {"", "0.0.0.0", "::"}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def load_demo_logins(base_url: str = "") -> list[str]:
    try:
        return format_logins(demo_logins(), base_url)
    except Exception:
        return []


def try_first(base_url: str = "") -> list[str]:
    """The welcome's last lines: the Django admin login and the customer to play in the simulator."""
    try:
        admin, story = admin_login(), demo_story()
    except Exception:
        return []
    lines = []
    if admin:
        lines.append(f"Django admin: {admin['username']} / {admin['password']}  ->  {base_url}{admin['url']}")
    if story:
        lines += [
            "",
            "Try this first:",
            f"  1. Phone simulator ({base_url}/dev/simulator/): press 'Play {story['customer']}' (a customer",
            f"     bound to clerk {story['clerk']}) and send a message.",
            f"  2. Clerk app ({base_url}/clerk/) as {story['clerk_username']}: the message is in the chat;",
            "     send a product card, tap it in the simulator: LINE signs the customer in to the shop",
            "     through LIFF (the LINE stand-in plays LINE Login), then buy it in the shop.",
            f"  3. Console ({base_url}/console/) as admin: the order, credited to the clerk with the reason.",
        ]
    return lines


def prepare_database(*, seed: bool, stdout: OutputWrapper, stderr: OutputWrapper) -> bool:
    """Migrate; load the small demo data set if `seed` and there is no brand yet. True if it seeded."""
    stdout.write("Preparing the database ...")
    call_command("migrate", interactive=False, verbosity=0)
    if not seed or Brand.objects.exists():
        demo = Brand.objects.filter(slug=DEMO_SLUG).first()
        if demo is not None:
            # Started again days or weeks later: the clerks stay on the roster for the weeks ahead.
            extend_roster(demo)
        return False
    if "seed" not in get_commands():
        stderr.write("The demo data loader (omo seed) is not installed; starting without data.")
        return False
    stdout.write("Loading demo data (first run only) ...")
    stdout.flush()
    call_command("seed", "--demo", "--size", "small")
    return True


def _in_memory_channel_layer() -> bool:
    return str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).endswith("InMemoryChannelLayer")


class Command(BaseCommand):
    help = "Run omo for a first look: migrate, load demo data, start the web server and a worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
        )
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        parser.add_argument(
            "--no-seed", action="store_true", help="do not load demo data even when the database is empty"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        base_url = f"http://{_local_host(host)}:{port}"
        # The demo shows the local stand-ins' pages (the phone simulator); its children inherit this.
        os.environ.setdefault("OMO_DEVTOOLS", "1")
        if "OMO_BASE_URL" not in os.environ:
            # Links in the demo data and in messages must point at this server.
            os.environ["OMO_BASE_URL"] = base_url
            settings.BASE_URL = base_url
        base_url = os.environ["OMO_BASE_URL"].rstrip("/")

        prepare_database(seed=not options["no_seed"], stdout=self.stdout, stderr=self.stderr)
        self._supervise(host, port, base_url)

    def _supervise(self, host: str, port: int, base_url: str) -> None:
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen[bytes]] = {}
        failed: str | None = None
        try:
            if os.environ.get("OMO_DEVTOOLS") == "1" and "OMO_LINE_API_BASE" not in os.environ:
                # No real LINE here: the adapter talks to the local stand-in, and the phone
                # simulator plays the customer against it.
                standin = urllib.parse.urlsplit(settings.OMO_LINE_STANDIN_URL)
                children["LINE stand-in"] = self._start(
                    "line_standin",
                    "--host",
                    standin.hostname or "127.0.0.1",
                    "--port",
                    str(standin.port or 8091),
                )
                os.environ["OMO_LINE_API_BASE"] = settings.OMO_LINE_STANDIN_URL
            if _in_memory_channel_layer():
                # Embedded set-up: the worker runs inside the server, so what it does (a customer's
                # message, a delivery result) reaches the server's sockets at once.
                children["web server"] = self._start(
                    "serve", "--host", host, "--port", str(port), "--with-worker"
                )
            else:
                children["web server"] = self._start("serve", "--host", host, "--port", str(port))
                children["worker"] = self._start("worker")
            self._wait_until_ready(f"http://{_local_host(host)}:{port}/healthz", children)
            self._print_welcome(base_url)
            while True:
                for name, child in children.items():
                    if child.poll() is not None:
                        raise CommandError(f"the {name} stopped unexpectedly (exit code {child.returncode})")
                time.sleep(0.5)
        except _Stop:
            self.stdout.write("\nStopping omo ...")
        except CommandError as exc:
            failed = str(exc)
        finally:
            # A second Ctrl-C while stopping must not leave children behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            raise CommandError(failed)
        self.stdout.write("omo stopped.")

    def _start(self, *command: str) -> subprocess.Popen[bytes]:
        # Own session: a Ctrl-C in the terminal reaches only this process, which then stops each
        # child exactly once with SIGTERM.
        return subprocess.Popen(
            [sys.executable, "-m", "config.cli", *command],
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _wait_until_ready(self, url: str, children: Mapping[str, subprocess.Popen[bytes]]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for name, child in children.items():
                if child.poll() is not None:
                    raise CommandError(f"the {name} could not start (exit code {child.returncode})")
            try:
                with _direct.open(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (503 until the worker's first heartbeat is fine)
            except OSError:
                time.sleep(0.3)
        raise CommandError(f"the web server did not answer at {url} within {READY_TIMEOUT_SECONDS:g} s")

    def _print_welcome(self, base_url: str) -> None:
        width = max(len(label) for label, _ in PAGES)
        lines = ["", "omo is running. Open:"]
        lines += [f"  {label:<{width}}  {base_url}{path}" for label, path in PAGES]
        logins = load_demo_logins(base_url)
        if logins:
            lines += ["", "Demo logins (every password is the same):"] + [f"  {line}" for line in logins]
            lines += [f"  {line}" if line else "" for line in try_first(base_url)]
        lines += ["", "Press Ctrl-C to stop.", ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    def _stop(self, children: Mapping[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
