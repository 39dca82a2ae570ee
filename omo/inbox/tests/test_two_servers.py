"""Scale-out: two `omo serve` processes share Redis; a message received by one reaches a clerk on the other.

Runs when REDIS_URL is set (CI sets it on the PostgreSQL run). Each server is a real child process on
the test database; server A processes the webhook itself (immediate task backend), so the push to the
clerk's socket on server B can only travel through the Redis channel layer.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from omo.binding import services as binding_services
from omo.core.tests.processes import child_env, database_url_of_test_db, free_port, start_omo, stop
from omo.devtools import line_webhook_sender as wh
from omo.inbox import ingest
from omo.inbox.tests.live import (
    inbox_socket,
    next_inbound_message,
    post_line_webhook,
    session_cookie,
    wait_until_serving,
)

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.redis


@pytest.mark.django_db(transaction=True)
def test_message_received_by_server_a_reaches_a_clerk_on_server_b(
    clerk, line_inbox, line_standin, line_user, tmp_path
):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    cookie = session_cookie(clerk)

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

        with inbox_socket(ports["b"], cookie) as socket:
            token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
            event = wh.text_event(line_user.user_id, "請問有貨嗎？", token=token)
            assert post_line_webhook(ports["a"], line_inbox, event) == 200
            received = next_inbound_message(socket, timeout=30)
        assert received is not None
        assert received["message"]["text"] == "請問有貨嗎？"
        assert received["conversation"]["customer_id"] == contact.customer_id
    finally:
        for server in servers.values():
            stop(server)
        for name, log in logs.items():
            print(f"--- server {name} ---\n{log.read_text() if log.exists() else ''}")
