"""Helpers for tests that run `omo` in a real child process against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

REPO_ROOT = Path(settings.BASE_DIR)
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def database_url_of_test_db() -> str:
    """A DATABASE_URL for the database this test runs on (the test database, not the real one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise NotImplementedError(connection.vendor)


def child_env(**overrides: str | None) -> dict[str, str]:
    """The current environment with `overrides` applied (None removes a variable)."""
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def start_omo(*args: str, env: dict[str, str], **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "config.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        text=True,
        **popen,  # type: ignore[arg-type]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_text(path: Path, text: str, process: subprocess.Popen[str], timeout: float = 90) -> str:
    """Wait until the file the process writes its output to contains `text`; returns the output."""
    deadline = time.monotonic() + timeout
    while True:
        output = path.read_text() if path.exists() else ""
        if text in output:
            return output
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before printing {text!r}:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not printed within {timeout} s:\n{output}")
        time.sleep(0.2)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """(status, body) of a GET straight to a local server, 4xx/5xx included."""
    try:
        with _direct.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_status(url: str, status: int, process: subprocess.Popen[str], timeout: float = 60) -> bytes:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            code, body = http_get(url)
            if code == status:
                return body
            last = (code, body[:300])
        except OSError as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s (last: {last!r})")


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Send `sig` and wait for the exit code; kill it if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
