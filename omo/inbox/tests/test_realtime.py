"""Sockets: scope is checked when a socket subscribes; events reach only who may see them; payload schemas."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from omo.binding import services as binding_services
from omo.core.audit import Actor
from omo.inbox import realtime, services
from omo.inbox.consumers import CLOSE_UNAUTHENTICATED
from omo.inbox.models import InboxSettings
from omo.inbox.tests.conftest import during_opening_hours
from omo.testing import factories as f


def cookie_of(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [
        (b"origin", b"http://testserver"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


_HEADERS: dict[int, list[tuple[bytes, bytes]]] = {}


def sign_in(*users) -> None:
    """Session cookies are made before the event loop runs (the session store is synchronous)."""
    for user in users:
        _HEADERS[user.pk] = cookie_of(user)


async def connect(user) -> WebsocketCommunicator:
    headers = _HEADERS[user.pk]
    communicator = WebsocketCommunicator(application, "/ws/inbox/", headers=headers)
    connected, code = await communicator.connect()
    if not connected:
        communicator.close_code = code  # type: ignore[attr-defined]
        return communicator
    hello = await communicator.receive_json_from()
    assert hello["type"] == "hello" and hello["user_id"] == user.pk
    return communicator


async def subscribe(communicator: WebsocketCommunicator, conversation_id) -> dict:
    await communicator.send_json_to({"type": "subscribe.conversation", "conversation_id": conversation_id})
    return await communicator.receive_json_from()


@pytest.fixture
def cast(brand, store, other_store, clerk, manager, hq_agent, other_admin, make_conversation):
    """Two clerks of two stores, each with a bound customer's conversation."""
    clerk2 = f.make_user(brand, "clerk2", role="clerk", store=other_store)
    teammate = f.make_user(brand, "teammate", role="clerk", store=store)
    mine, theirs = make_conversation("甲"), make_conversation("乙")
    with during_opening_hours():
        binding_services.bind_customer(mine.customer, clerk, source="manual")
        binding_services.bind_customer(theirs.customer, clerk2, source="manual")
    mine.refresh_from_db()
    theirs.refresh_from_db()
    return {"clerk2": clerk2, "teammate": teammate, "mine": mine, "theirs": theirs}


@pytest.mark.django_db(transaction=True)
def test_socket_scope_sweep(brand, clerk, manager, hq_agent, other_admin, cast):
    mine, theirs = cast["mine"].pk, cast["theirs"].pk
    sign_in(clerk, cast["teammate"], manager, hq_agent, other_admin)

    async def scenario():
        anonymous = WebsocketCommunicator(
            application, "/ws/inbox/", headers=[(b"origin", b"http://testserver")]
        )
        assert await anonymous.connect() == (False, CLOSE_UNAUTHENTICATED)

        results = {}
        for name, user in [
            ("clerk", clerk),
            ("teammate", cast["teammate"]),
            ("manager", manager),
            ("hq", hq_agent),
            ("other_brand", other_admin),
        ]:
            socket = await connect(user)
            results[name] = [(await subscribe(socket, cid))["type"] for cid in (mine, theirs)]
            await socket.disconnect()

        socket = await connect(clerk)
        bad = await subscribe(socket, "abc")
        await socket.send_json_to({"type": "nope"})
        unknown = await socket.receive_json_from()
        await socket.disconnect()
        return results, bad, unknown

    results, bad, unknown = async_to_sync(scenario)()
    assert results == {
        "clerk": ["subscribed", "error"],  # own bound customer yes, another clerk's no
        "teammate": ["error", "error"],  # the brand does not let the store team see clerks' customers
        "manager": ["subscribed", "error"],  # own store only
        "hq": ["subscribed", "subscribed"],
        "other_brand": ["error", "error"],
    }
    assert bad["code"] == "bad_request" and unknown["code"] == "bad_request"

    InboxSettings.objects.create(brand=brand, store_team_sees_clerk_customers=True)

    async def teammate_again():
        socket = await connect(cast["teammate"])
        answers = [(await subscribe(socket, cid))["type"] for cid in (mine, theirs)]
        await socket.disconnect()
        return answers

    assert async_to_sync(teammate_again)() == ["subscribed", "error"]


@pytest.mark.django_db(transaction=True)
def test_events_reach_only_sockets_that_may_see_them(clerk, manager, cast):
    mine = cast["mine"]
    sign_in(clerk, cast["clerk2"])

    async def scenario():
        own = await connect(clerk)
        await own.send_json_to({"type": "subscribe.list"})
        assert (await own.receive_json_from())["type"] == "subscribed"
        assert (await subscribe(own, mine.pk))["type"] == "subscribed"
        other = await connect(cast["clerk2"])
        await other.send_json_to({"type": "subscribe.list"})
        await other.receive_json_from()

        await database_sync_to_async(services.add_note)(mine, text="VIP 顧客", author=manager)
        event = await own.receive_json_from(timeout=5)
        # in the list group and the conversation group, but delivered once
        assert await own.receive_nothing(timeout=0.3)
        assert await other.receive_nothing(timeout=0.3)

        # transferring the customer away removes the conversation from this clerk's screen
        actor = Actor(brand=clerk.brand, user=manager, role="store_manager")
        with during_opening_hours():  # the transfer routes to the teammate only while the store is open
            await database_sync_to_async(binding_services.transfer_bindings)(
                clerk, to_clerk=cast["teammate"], actor=actor
            )
        # Wait for the removal itself (a loaded machine may take longer than a quiet one), then for quiet.
        seen = []
        deadline = asyncio.get_running_loop().time() + 5
        while asyncio.get_running_loop().time() < deadline and not any(
            e["type"] == "conversation.removed" for e in seen
        ):
            if not await own.receive_nothing(timeout=0.1):
                seen.append(await own.receive_json_from())
        while not await own.receive_nothing(timeout=0.3):
            seen.append(await own.receive_json_from())
        await own.disconnect()
        await other.disconnect()
        return event, seen

    event, seen = async_to_sync(scenario)()
    realtime.check(event)
    assert event["type"] == "message.created"
    assert event["message"]["text"] == "VIP 顧客" and event["message"]["kind"] == "note"
    assert event["conversation"]["id"] == mine.pk
    types = [e["type"] for e in seen]
    assert "binding.changed" in types
    assert types[-1] == "conversation.removed" or "conversation.removed" in types


@pytest.mark.django_db
def test_every_socket_payload_matches_its_declared_schema(
    monkeypatch, clerk, manager, make_conversation, django_capture_on_commit_callbacks
):
    sent: list[dict] = []
    monkeypatch.setattr(realtime, "send", lambda groups, payload: sent.append(realtime.check(payload)))
    conversation = make_conversation()
    with django_capture_on_commit_callbacks(execute=True):
        binding_services.bind_customer(conversation.customer, clerk, source="manual")
        services.add_note(conversation, text="備註", author=manager)
        services.set_labels(conversation, ["VIP"], user=manager)
    types = {payload["type"] for payload in sent}
    assert {"binding.changed", "conversation.assigned", "message.created", "conversation.updated"} <= types
    for payload in sent:
        assert set(payload) == realtime.SOCKET_EVENTS[payload["type"]]
    with pytest.raises(realtime.SchemaError):
        realtime.check({"type": "message.created", "conversation_id": 1})
    with pytest.raises(realtime.SchemaError):
        realtime.check({"type": "made.up"})


def test_list_groups_follow_the_role(db, brand, store, clerk, manager, hq_agent):
    assert realtime.list_groups(clerk) == [realtime.user_group(clerk.pk)]
    assert realtime.list_groups(manager) == [realtime.store_group(store.pk)]
    assert realtime.list_groups(hq_agent) == [realtime.brand_group(brand.pk)]
