"""The embedded set-up (`omo demo` without Redis): `omo serve --with-worker` processes a customer's
message in its own worker thread and pushes it to a clerk's socket on the in-memory channel layer."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest
from django.test import Client

from omo.binding import services as binding_services
from omo.core.tests.processes import child_env, database_url_of_test_db, free_port, start_omo, stop
from omo.devtools import line_webhook_sender as wh
from omo.inbox import ingest
from omo.inbox.tests.test_two_servers import wait_until_serving


@pytest.mark.django_db(transaction=True)
def test_a_customer_message_reaches_the_clerk_socket_through_the_embedded_worker(
    clerk, line_inbox, line_standin, line_user, tmp_path
):
    from websockets.sync.client import connect

    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="陳先生")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    client = Client()
    client.force_login(clerk)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    env = child_env(
        DATABASE_URL=database_url_of_test_db(),
        REDIS_URL=None,  # the in-memory channel layer
        OMO_TASK_BACKEND=None,  # the database task queue, as in production
        OMO_LINE_API_BASE=line_standin.url,
        OMO_VAR_DIR=str(tmp_path),
    )
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = start_omo(
            "serve", "--port", str(port), "--with-worker", env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_serving(port, server)
        with connect(
            f"ws://127.0.0.1:{port}/ws/inbox/",
            origin=f"http://127.0.0.1:{port}",
            additional_headers={"Cookie": cookie},
            proxy=None,
        ) as socket:
            assert json.loads(socket.recv(timeout=10))["type"] == "hello"
            socket.send(json.dumps({"type": "subscribe.list"}))
            assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"

            body = wh.webhook_body(
                line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "週末有營業嗎？")]
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/line/{line_inbox.pk}",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Line-Signature": wh.sign(line_inbox.secrets["channel_secret"], body),
                },
                method="POST",
            )
            sent_at = time.monotonic()
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                request, timeout=10
            ) as answer:
                assert answer.status == 200

            received = None
            deadline = sent_at + 20
            while received is None and time.monotonic() < deadline:
                event = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
                if event["type"] == "message.created" and event["message"]["direction"] == "in":
                    received = event
        assert received is not None, log.read_text()
        assert received["message"]["text"] == "週末有營業嗎？"
        assert received["conversation"]["customer_id"] == contact.customer_id
    finally:
        assert stop(server) == 0, log.read_text()
