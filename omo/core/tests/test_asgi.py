"""The ASGI stack: WebSockets pass the origin check and session auth before reaching a consumer."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.test import Client, override_settings

from config.asgi import application, websocket_application
from omo.core.consumers import CLOSE_UNAUTHENTICATED


class WebsocketCommunicator(ApplicationCommunicator):
    """The few calls of channels.testing.WebsocketCommunicator these tests use.

    (channels.testing itself imports daphne, which omo does not install: it serves with uvicorn.)
    """

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 3) -> tuple[bool, object]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept"
        return True, response.get("subprotocol")

    async def send_json_to(self, data: object) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 3) -> object:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, timeout: float = 3) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout)


def session_cookie_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def headers(cookie: str | None = None, origin: str = "http://testserver") -> list[tuple[bytes, bytes]]:
    result = [(b"origin", origin.encode())]
    if cookie:
        result.append((b"cookie", f"sessionid={cookie}".encode()))
    return result


@pytest.mark.django_db(transaction=True)
def test_signed_in_staff_gets_an_echo(clerk):
    cookie = session_cookie_of(clerk)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers(cookie))
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"hello": "店員", "n": 1})
        reply = await communicator.receive_json_from()
        await communicator.disconnect()
        return reply

    assert async_to_sync(scenario)() == {
        "type": "pong",
        "user": clerk.username,
        "echo": {"hello": "店員", "n": 1},
    }


@pytest.mark.django_db(transaction=True)
def test_anonymous_socket_is_refused():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers())
        return await communicator.connect()

    assert async_to_sync(scenario)() == (False, CLOSE_UNAUTHENTICATED)


@pytest.mark.django_db(transaction=True)
def test_inactive_user_is_refused(clerk):
    cookie = session_cookie_of(clerk)
    clerk.is_active = False
    clerk.save(update_fields=["is_active"])

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers(cookie))
        return await communicator.connect()

    connected, _ = async_to_sync(scenario)()
    assert connected is False


@pytest.mark.django_db(transaction=True)
def test_foreign_origin_is_refused_before_auth(clerk):
    cookie = session_cookie_of(clerk)
    with override_settings(ALLOWED_HOSTS=["shop.example"]):
        app = websocket_application()

    async def scenario(origin):
        communicator = WebsocketCommunicator(app, "/ws/ping/", headers=headers(cookie, origin=origin))
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)("https://evil.example") is False
    assert async_to_sync(scenario)("https://shop.example") is True
