"""pytest fixtures for LINE: the stand-in on a free port, a LINE inbox pointed at it, webhooks through the edge.

Registered for the whole suite from the root conftest (`pytest_plugins`).

    def test_something(line_inbox, line_standin, line_user):
        status, _ = post_line_webhook(line_inbox, text_event(line_user.user_id, "hi"))
        process_pending(line_inbox.pk)
        ...

- `line_standin`: a LineStandIn (omo/devtools/line_standin.py), emptied for each test, with
  settings.OMO_LINE_API_BASE pointing at it and short retry/backoff times.
- `line_channel`: a channel (secret, access token, bot user id) known to the stand-in.
- `line_inbox`: an Inbox(platform="line") of the `brand` fixture holding that channel's credentials.
- `line_user`: a simulated LINE user with a profile on the stand-in.
- `post_line_webhook(inbox, *events | body=…)`: signs and drives the real webhook edge in process
  (its database work runs in the test's thread and transaction, so plain `db` tests work).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync

from omo.devtools import line_webhook_sender as wh

if TYPE_CHECKING:  # the stand-in pulls in aiohttp and the LINE SDK: imported only when a test uses it
    from omo.core.models import Brand
    from omo.devtools.line_standin import LineStandIn, StandInChannel, StandInUser
    from omo.inbox.models import Inbox


@pytest.fixture(scope="session")
def line_standin_server() -> Iterator[LineStandIn]:
    from omo.devtools.line_standin import LineStandIn

    standin = LineStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def line_standin(line_standin_server: LineStandIn, settings: Any) -> Iterator[LineStandIn]:
    from omo.platforms import _cache as adapter_cache
    from omo.platforms import ratelimit
    from omo.platforms.edge import inbox_cache

    standin = line_standin_server
    standin.reset()
    standin.channels.clear()
    standin.users.clear()
    standin.contents.clear()
    standin.webhook_hosts.clear()
    standin.reply_token_life = 60.0
    settings.OMO_LINE_API_BASE = standin.url
    settings.OMO_LINE_DATA_API_BASE = None
    settings.OMO_LINE_HTTP_TIMEOUT = (2.0, 2.0)
    settings.OMO_LINE_BACKOFF_SECONDS = 0.01
    settings.OMO_LINE_RETRY_LATER_SECONDS = 1.0
    ratelimit.limiter().reset()
    adapter_cache.clear()
    inbox_cache.clear()
    yield standin
    adapter_cache.clear()
    inbox_cache.clear()


@pytest.fixture
def line_channel(line_standin: LineStandIn) -> StandInChannel:
    return line_standin.add_channel(login_channel_id="2000000001")


@pytest.fixture
def line_inbox(brand: Brand, line_channel: StandInChannel) -> Inbox:
    from omo.inbox.models import Inbox

    return Inbox.objects.create(
        brand=brand,
        platform="line",
        name=f"{brand.name} LINE",
        external_id=line_channel.channel_id,
        handle="@herb",
        bot_user_id=line_channel.bot_user_id,
        secrets={"channel_secret": line_channel.channel_secret, "access_token": line_channel.access_token},
        config={
            "login_channel_id": line_channel.login_channel_id,
            "plan": {"included": 200, "extra_price": 20},
        },
    )


@pytest.fixture
def line_user(line_standin: LineStandIn) -> StandInUser:
    return line_standin.add_user(display_name="林小姐", picture_url="https://profile.line-scdn.net/0h-test")


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
        ],
        "client": ("203.104.146.1", 443),
        "server": ("testserver", 443),
    }


async def call_asgi(
    app: Any,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    method: str = "POST",
    chunk: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """One HTTP request through an ASGI app; returns (status, JSON body)."""
    scope = _scope(path, headers)
    scope["method"] = method
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    parts = parts or [b""]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if parts:
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], (json.loads(raw) if raw else {})


def inline_edge(**options: Any) -> Any:
    """A webhook edge whose database work runs in the calling (test) thread."""
    from omo.core.edge import run_in_calling_thread
    from omo.platforms.edge import InboxCache, WebhookEdge

    return WebhookEdge(
        None, run_db=run_in_calling_thread, run_lookup=run_in_calling_thread, cache=InboxCache(), **options
    )


def post_line_webhook(
    inbox: Inbox,
    *events: dict[str, Any],
    body: bytes | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
    edge: Any = None,
    chunk: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST events (or a raw body) to /webhooks/line/<inbox id> through the edge, signed like LINE.

    signature=None signs the body with the inbox's channel secret; "" sends no signature header.
    """
    raw = body if body is not None else wh.webhook_body(inbox.bot_user_id, list(events))
    sent_headers = {"content-type": "application/json; charset=utf-8", "content-length": str(len(raw))}
    signature = wh.sign(inbox.secrets["channel_secret"], raw) if signature is None else signature
    if signature:
        sent_headers["X-Line-Signature"] = signature
    sent_headers.update(headers or {})
    app = edge or inline_edge()
    return async_to_sync(call_asgi)(app, f"/webhooks/line/{inbox.pk}", raw, sent_headers, chunk=chunk)


def say(line_inbox: Any, line_standin: Any, line_user: Any, text: str) -> None:
    """The customer writes `text` in chat (with a fresh reply token), and the worker processes it."""
    from omo.platforms.tasks import process_pending

    token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, text, token=token))
    process_pending(line_inbox.pk)


def follow(line_inbox: Any, line_user: Any, **kw: Any) -> None:
    """The customer adds the account (or unblocks it), and the worker processes it."""
    from omo.platforms.tasks import process_pending

    post_line_webhook(line_inbox, wh.follow_event(line_user.user_id, **kw))
    process_pending(line_inbox.pk)


def customer_of(line_user: Any) -> Any:
    """The customer a LINE user became."""
    from omo.customers.models import CustomerIdentity

    return CustomerIdentity.objects.get(kind="line", value=line_user.user_id).customer
