"""Scale-out: two `omo serve` processes share Redis; a message received by one reaches a clerk on the other.

Runs when REDIS_URL is set (CI sets it on the PostgreSQL run). Each server is a real child process on
the test database; server A processes the webhook itself (immediate task backend), so the push to the
clerk's socket on server B can only travel through the Redis channel layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest
from django.test import Client

from omo.binding import services as binding_services
from omo.core.tests.processes import child_env, database_url_of_test_db, free_port, http_get, start_omo, stop
from omo.devtools import line_webhook_sender as wh
from omo.inbox import ingest

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")


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


@pytest.mark.django_db(transaction=True)
def test_message_received_by_server_a_reaches_a_clerk_on_server_b(
    clerk, line_inbox, line_standin, line_user, tmp_path
):
    from websockets.sync.client import connect

    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    client = Client()
    client.force_login(clerk)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    env = child_env(
        DATABASE_URL=database_url_of_test_db(),
        REDIS_URL=REDIS_URL,
        OMO_REDIS_PREFIX=f"omo-test-{uuid.uuid4().hex[:8]}",  # no crosstalk with other runs on the same Redis
        OMO_LINE_API_BASE=line_standin.url,
        OMO_TASK_BACKEND="django_tasks.backends.immediate.ImmediateBackend",
        OMO_VAR_DIR=str(tmp_path),
    )
    ports = {"a": free_port(), "b": free_port()}
    servers, logs = {}, {}
    try:
        for name, port in ports.items():
            logs[name] = tmp_path / f"server-{name}.log"
            with logs[name].open("w") as output:
                servers[name] = start_omo(
                    "serve", "--port", str(port), env=env, stdout=output, stderr=subprocess.STDOUT
                )
        for name, port in ports.items():
            wait_until_serving(port, servers[name])

        with connect(
            f"ws://127.0.0.1:{ports['b']}/ws/inbox/",
            origin=f"http://127.0.0.1:{ports['b']}",
            additional_headers={"Cookie": cookie},
            proxy=None,
        ) as socket:
            assert json.loads(socket.recv(timeout=10))["type"] == "hello"
            socket.send(json.dumps({"type": "subscribe.list"}))
            assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"

            token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
            body = wh.webhook_body(
                line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "請問有貨嗎？", token=token)]
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{ports['a']}/webhooks/line/{line_inbox.pk}",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Line-Signature": wh.sign(line_inbox.secrets["channel_secret"], body),
                },
                method="POST",
            )
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                request, timeout=10
            ) as response:
                assert response.status == 200

            deadline = time.monotonic() + 30
            received = None
            while time.monotonic() < deadline:
                event = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
                if event["type"] == "message.created" and event["message"]["direction"] == "in":
                    received = event
                    break
        assert received is not None
        assert received["message"]["text"] == "請問有貨嗎？"
        assert received["conversation"]["customer_id"] == contact.customer_id
    finally:
        for server in servers.values():
            stop(server)
        for name, log in logs.items():
            print(f"--- server {name} ---\n{log.read_text() if log.exists() else ''}")
