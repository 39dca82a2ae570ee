"""message.updated: every delivery status change of an outgoing message reaches the screens that show it.

queued → sent and queued → failed (with the reason) come from the delivery task, failed → queued from
the clerk's retry. The event goes after commit to the groups that get message.created for the
conversation, and a socket that may not see the conversation never gets it.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from config.asgi import application
from omo.binding import services as binding_services
from omo.inbox import ingest, outbound, realtime
from omo.platforms.base import DeliveryOutcome, DeliveryState
from omo.testing import factories as f


@pytest.fixture
def pushed(monkeypatch):
    """Every (groups, payload) realtime.send is asked to push, schema-checked."""
    sent: list[tuple[set[str], dict]] = []
    monkeypatch.setattr(
        realtime, "send", lambda groups, payload: sent.append((set(groups), realtime.check(payload)))
    )
    return sent


def updates(pushed) -> list[tuple[set[str], dict]]:
    return [(groups, payload) for groups, payload in pushed if payload["type"] == "message.updated"]


@pytest.fixture
def line_conversation(line_inbox, line_user, clerk):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    conversation.refresh_from_db()
    return conversation


@pytest.mark.django_db
def test_sent_failed_and_retried_each_push_the_delivery_state(
    line_conversation, line_standin, line_user, clerk, pushed, django_capture_on_commit_callbacks
):
    conversation = line_conversation
    with django_capture_on_commit_callbacks(execute=True):
        first = outbound.queue_message(conversation, kind="text", text="您好", sender=clerk)
    created_groups = next(groups for groups, payload in pushed if payload["type"] == "message.created")
    assert updates(pushed) == []  # queuing is message.created, not an update

    # queued → sent
    with django_capture_on_commit_callbacks(execute=True):
        outbound.deliver(first.pk)
    first.refresh_from_db()
    [(groups, payload)] = updates(pushed)
    assert groups == created_groups == realtime.audience(conversation)
    assert realtime.user_group(clerk.pk) in groups and realtime.conversation_group(conversation.pk) in groups
    assert payload["conversation_id"] == conversation.pk and len(payload["event_id"]) == 32
    assert payload["message"] == {
        "id": first.pk,
        "conversation_id": conversation.pk,
        "status": "sent",
        "failure_reason": "",
        "sent_via": "push",
        "sent_at": first.sent_at.isoformat(),
    }

    # queued → failed, with LINE's reason
    pushed.clear()
    line_standin.inject("status", status=400, count=1, message="Injected bad request")
    with django_capture_on_commit_callbacks(execute=True):
        second = outbound.queue_message(conversation, kind="text", text="第二則", sender=clerk)
        outbound.deliver(second.pk)
    [(_, failed)] = updates(pushed)
    assert failed["message"]["status"] == "failed" and failed["message"]["sent_at"] is None
    assert "LINE 拒絕了這則訊息" in failed["message"]["failure_reason"]
    assert "Injected bad request" in failed["message"]["failure_reason"]

    # failed → queued (retry), then queued → sent, with the same retry key
    pushed.clear()
    second.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        outbound.retry_message(second)
    with django_capture_on_commit_callbacks(execute=True):
        outbound.deliver(second.pk)
    assert [p["message"]["status"] for _, p in updates(pushed)] == ["queued", "sent"]
    assert updates(pushed)[0][1]["message"]["failure_reason"] == ""
    second.refresh_from_db()
    assert {c["retry_key"] for c in line_standin.calls("/v2/bot/message/push")} >= {str(second.retry_key)}
    assert len(line_standin.delivered(line_user.user_id)) == 2

    # nothing changed, nothing pushed: a second delivery of a sent message, a retry refused
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert outbound.deliver(second.pk)["state"] == "skipped"
        with pytest.raises(outbound.OutboundError):
            outbound.retry_message(second)
    assert updates(pushed) == []


@pytest.mark.django_db
def test_a_rate_limited_attempt_stays_queued_and_pushes_nothing(
    line_conversation, line_standin, pushed, django_capture_on_commit_callbacks
):
    line_standin.inject("rate", count=1)
    with django_capture_on_commit_callbacks(execute=True):
        message = outbound.queue_message(line_conversation, kind="text", text="稍後")
        assert outbound.deliver(message.pk)["state"] == "retry_later"
    assert updates(pushed) == []


@pytest.mark.django_db
def test_nothing_is_pushed_for_a_change_that_rolled_back(
    make_conversation, pushed, django_capture_on_commit_callbacks
):
    conversation = make_conversation()
    message = outbound.queue_message(conversation, kind="text", text="嗨")
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            outbound.apply_outcome(message, DeliveryOutcome(DeliveryState.FAILED, reason="x"))
            raise RuntimeError("rolled back")
    assert updates(pushed) == []
    message.refresh_from_db()
    assert message.status == "queued"


def test_message_updated_schema():
    payload = {
        "type": "message.updated",
        "event_id": "e" * 32,
        "conversation_id": 1,
        "message": {
            "id": 2,
            "conversation_id": 1,
            "status": "sent",
            "failure_reason": "",
            "sent_via": "reply",
            "sent_at": "2025-03-03T06:00:00+00:00",
        },
    }
    assert realtime.check(payload) is payload
    with pytest.raises(realtime.SchemaError):  # the full message is message.created's, not this event's
        realtime.check({**payload, "message": {**payload["message"], "text": "嗨"}})
    with pytest.raises(realtime.SchemaError):
        realtime.check({**payload, "conversation": {}})


# --- over real sockets ------------------------------------------------------------------------------


def _headers(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


@pytest.fixture
def own_redis_prefix(settings):
    """With Redis, groups of this test only: other runs on the same Redis have the same group names."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    config = layers["default"].get("CONFIG")
    if config is not None:
        config["prefix"] = f"omo-test-{uuid.uuid4().hex[:8]}"
        settings.CHANNEL_LAYERS = layers


@pytest.mark.django_db(transaction=True)
def test_delivery_states_reach_only_sockets_that_may_see_the_conversation(
    own_redis_prefix, brand, store, other_store, clerk, manager, hq_agent, other_admin, make_conversation
):
    clerk2 = f.make_user(brand, "clerk2", role="clerk", store=other_store)
    manager2 = f.make_user(brand, "manager2", role="store_manager", store=other_store)
    mine, theirs = make_conversation("甲"), make_conversation("乙")
    binding_services.bind_customer(mine.customer, clerk, source="manual")
    binding_services.bind_customer(theirs.customer, clerk2, source="manual")
    message = outbound.queue_message(mine, kind="text", text="您好", sender=clerk)
    users = {"clerk": clerk, "manager": manager, "hq": hq_agent, "clerk2": clerk2, "manager2": manager2}
    users["other_brand"] = other_admin
    headers = {name: _headers(user) for name, user in users.items()}

    async def scenario():
        sockets = {}
        for name in users:
            socket = WebsocketCommunicator(application, "/ws/inbox/", headers=headers[name])
            assert (await socket.connect())[0]
            assert (await socket.receive_json_from())["type"] == "hello"
            await socket.send_json_to({"type": "subscribe.list"})
            assert (await socket.receive_json_from())["type"] == "subscribed"
            sockets[name] = socket
        await sockets["clerk"].send_json_to({"type": "subscribe.conversation", "conversation_id": mine.pk})
        assert (await sockets["clerk"].receive_json_from())["type"] == "subscribed"
        await sockets["clerk2"].send_json_to({"type": "subscribe.conversation", "conversation_id": mine.pk})
        assert (await sockets["clerk2"].receive_json_from())["code"] == "forbidden"

        reason = "LINE 拒絕了這則訊息 / LINE rejected this message"
        await database_sync_to_async(outbound.apply_outcome)(
            message, DeliveryOutcome(DeliveryState.FAILED, via="push", reason=reason)
        )
        received = {}
        for name, socket in sockets.items():
            received[name] = []
            while not await socket.receive_nothing(timeout=0.3):
                received[name].append(await socket.receive_json_from())
            await socket.disconnect()
        return received

    received = async_to_sync(scenario)()
    # the clerk is in the list and the conversation group: one event, once
    for name in ("clerk", "manager", "hq"):
        assert [event["type"] for event in received[name]] == ["message.updated"], (name, received[name])
        event = received[name][0]
        assert event["conversation_id"] == mine.pk
        assert event["message"] == {
            "id": message.pk,
            "conversation_id": mine.pk,
            "status": "failed",
            "failure_reason": "LINE 拒絕了這則訊息 / LINE rejected this message",
            "sent_via": "push",
            "sent_at": None,
        }
    assert received["clerk2"] == [] and received["manager2"] == [] and received["other_brand"] == []


@pytest.mark.django_db
def test_the_chat_page_knows_whether_delivery_states_come_over_the_socket(
    client, clerk, make_conversation, settings
):
    conversation = make_conversation()
    binding_services.bind_customer(conversation.customer, clerk, source="manual")
    client.force_login(clerk)
    url = f"/clerk/c/{conversation.pk}/"

    # in-memory channel layer, tasks in a separate worker process: that worker's events never arrive
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    assert 'data-status-push="0"' in client.get(url).content.decode()
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert 'data-status-push="1"' in client.get(url).content.decode()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    assert 'data-status-push="1"' in client.get(url).content.decode()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.OMO_WORKER_EVENTS_LIVE = True
    assert 'data-status-push="1"' in client.get(url).content.decode()


def test_every_change_is_one_event_in_order(
    db, make_conversation, pushed, django_capture_on_commit_callbacks
):
    """failed → queued → failed → queued → sent, each committed on its own: one event per change."""
    conversation = make_conversation()
    message = outbound.queue_message(conversation, kind="text", text="嗨")
    pushed.clear()

    def committed(change, *args):
        with django_capture_on_commit_callbacks(execute=True):
            change(*args)
        message.refresh_from_db()

    for _ in range(2):
        committed(outbound.apply_outcome, message, DeliveryOutcome(DeliveryState.FAILED, reason="暫時失敗"))
        committed(outbound.retry_message, message)
    committed(
        outbound.apply_outcome, message, DeliveryOutcome(DeliveryState.SENT, via="reply", external_id="m-1")
    )
    committed(
        outbound.apply_outcome, message, DeliveryOutcome(DeliveryState.FAILED, reason="late")
    )  # already sent

    statuses = [payload["message"]["status"] for _, payload in updates(pushed)]
    assert statuses == ["failed", "queued", "failed", "queued", "sent"]
    assert [payload["message"]["failure_reason"] for _, payload in updates(pushed)][:2] == ["暫時失敗", ""]
    assert (message.status, message.sent_via, message.external_id) == ("sent", "reply", "m-1")
    assert updates(pushed)[-1][1]["message"]["sent_at"] == message.sent_at.isoformat()
