"""Steps shared by the tests that run real `omo serve` processes and a clerk's socket against them."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import Client

from omo.core.tests.processes import http_get
from omo.devtools import line_webhook_sender as wh


def wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server on {port} exited with {process.returncode}")
        try:
            http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # 200 or 503 (no worker): it serves
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"server on {port} did not start within {timeout} s")


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@contextmanager
def inbox_socket(port: int, cookie: str) -> Iterator[Any]:
    """A signed-in `/ws/inbox/` socket on the server at `port`, subscribed to its conversation list."""
    from websockets.sync.client import connect

    with connect(
        f"ws://127.0.0.1:{port}/ws/inbox/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
        proxy=None,
    ) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
        socket.send(json.dumps({"type": "subscribe.list"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"
        yield socket


def post_line_webhook(port: int, inbox: Any, *events: dict[str, Any]) -> int:
    """POST events to the server's LINE webhook, signed like LINE; returns the HTTP status."""
    body = wh.webhook_body(inbox.bot_user_id, list(events))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/line/{inbox.pk}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Line-Signature": wh.sign(inbox.secrets["channel_secret"], body),
        },
        method="POST",
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
        return response.status


def next_inbound_message(socket: Any, timeout: float) -> dict[str, Any] | None:
    """The next `message.created` event of a customer's message on `socket`, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event["type"] == "message.created" and event["message"]["direction"] == "in":
            return event
    return None
