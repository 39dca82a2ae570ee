"""The embedded set-up (`omo demo` without Redis): `omo serve --with-worker` processes a customer's
message in its own worker thread and pushes it to a clerk's socket on the in-memory channel layer."""

from __future__ import annotations

import subprocess

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


@pytest.mark.django_db(transaction=True)
def test_a_customer_message_reaches_the_clerk_socket_through_the_embedded_worker(
    clerk, line_inbox, line_standin, line_user, tmp_path
):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="陳先生")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    cookie = session_cookie(clerk)
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
        with inbox_socket(port, cookie) as socket:
            assert (
                post_line_webhook(port, line_inbox, wh.text_event(line_user.user_id, "週末有營業嗎？")) == 200
            )
            received = next_inbound_message(socket, timeout=20)
        assert received is not None, log.read_text()
        assert received["message"]["text"] == "週末有營業嗎？"
        assert received["conversation"]["customer_id"] == contact.customer_id
    finally:
        assert stop(server) == 0, log.read_text()
