"""A local stand-in for the LINE Platform, for the demo and tests. Never used in production paths.

It serves every path the product calls, on one host (the SDK sends both api.line.me and
api-data.line.me calls to `Configuration.host` when it is set, see platforms.md §A12):

    POST /v2/bot/message/reply | push | multicast       POST /v2/bot/chat/loading/start
    GET  /v2/bot/profile/{userId}                      GET  /v2/bot/message/quota[/consumption]
    GET  /v2/bot/message/{id}/content[/transcoding|/preview]
    POST /oauth2/v2.1/verify                           (LINE Login ID tokens it minted)
    GET  /v2/bot/info, PUT|GET /v2/bot/channel/webhook/endpoint, POST /v2/bot/channel/webhook/test
                                                       (omo/devtools/line_standin_account.py)

and behaves like LINE where it matters to us:
- every request body is validated with the SDK's own request models (ReplyMessageRequest,
  PushMessageRequest, MulticastRequest, ShowLoadingAnimationRequest) plus the documented limits
  those models do not check (omo/devtools/line_requests.py);
- Bearer token checked (401); reply tokens are single use and live ~1 minute (400 "Invalid reply
  token"); `X-Line-Retry-Key` on reply → 400; a retry key already accepted → 409 with
  `x-line-accepted-request-id` and `sentMessages`; `x-line-request-id` on every response;
- a monthly quota (429 "You have reached your monthly limit."), and injected faults: the next N
  requests answer 429 / 500 / the quota message, or arrive late (latency);
- it keeps what each user "received" (`deliveries`) for tests and the phone simulator.

A control API (JSON under `/_standin/`, for other processes such as the phone simulator) is in
omo/devtools/line_standin_control.py; LINE Login ID tokens are signed and read by
omo/devtools/line_id_tokens.py. This module holds the stand-in's state and its LINE-facing routes;
it stays whole at a little over 600 lines because every route reads and changes that one state
under one lock.

Python use (tests): `with LineStandIn() as line: line.add_channel(...); line.url` — see
omo/testing/line.py for the pytest fixtures.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from linebot.v3.messaging import (
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)

from omo.devtools import line_id_tokens as id_tokens
from omo.devtools import line_webhook_sender as wh
from omo.devtools.line_requests import bad_request, validated
from omo.devtools.line_standin_account import ChannelRoutes
from omo.devtools.line_standin_control import ControlApi

QUOTA_MESSAGE = "You have reached your monthly limit."
RATE_MESSAGE = "The API rate limit has been exceeded. Try again later."
AUTH_MESSAGE = "Authentication failed. Confirm that the access token in the authorization header is valid."
TO_PATTERN = re.compile(r"^[UCR][0-9a-f]{32}$")
SEND_PATHS = ("/v2/bot/message/reply", "/v2/bot/message/push", "/v2/bot/message/multicast")
REQUEST_ID = web.RequestKey("request_id", str)


@dataclass
class StandInChannel:
    channel_id: str
    channel_secret: str
    access_token: str
    bot_user_id: str
    login_channel_id: str = ""
    quota_limit: int | None = None  # messages a month; None = unlimited ("type": "none")
    used: int = 0  # billed messages this month (push, multicast; replies are free)
    display_name: str = "官方帳號"
    basic_id: str = ""
    webhook_endpoint: str = ""


@dataclass
class StandInUser:
    user_id: str
    display_name: str
    picture_url: str = ""
    status_message: str = ""
    language: str = "zh-TW"
    blocked: bool = False


@dataclass
class Delivery:
    channel_id: str
    to: str
    via: str  # reply | push | multicast
    messages: list[dict[str, Any]]
    request_id: str
    message_ids: list[str]
    retry_key: str = ""
    at: float = field(default_factory=time.time)


@dataclass
class Fault:
    kind: str  # "status" | "latency" | "quota" | "rate"
    remaining: int = 1
    status: int = 500
    latency: float = 0.0
    paths: tuple[str, ...] = SEND_PATHS
    message: str = ""


@dataclass
class _ReplyToken:
    channel_id: str
    to: str
    issued_at: float
    used: bool = False


def _sent_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)


class LineStandIn:
    """The stand-in server. Start it (in a background thread) with `start()` or a `with` block."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, reply_token_life: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.reply_token_life = reply_token_life
        self._lock = threading.RLock()
        self._id_token_key = secrets.token_bytes(32)
        self.channels: dict[str, StandInChannel] = {}
        self.users: dict[str, StandInUser] = {}
        self.contents: dict[str, tuple[bytes, str, str]] = {}  # id → (data, content type, transcoding status)
        self.deliveries: list[Delivery] = []
        self.requests: deque[dict[str, Any]] = deque(maxlen=5000)
        self.faults: list[Fault] = []
        self._reply_tokens: dict[str, _ReplyToken] = {}
        self._retry_keys: dict[tuple[str, str], tuple[str, list[dict[str, str]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self.webhook_hosts: dict[str, str] = {}  # https origin → local URL, for the webhook test

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LineStandIn:
        self._thread = threading.Thread(target=self._serve, name="line-standin", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the LINE stand-in did not start")
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        runner = self._loop.run_until_complete(self._start_site())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    async def _start_site(self) -> web.AppRunner:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.port = runner.addresses[0][1]  # the port the system picked when asked for 0
        return runner

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    def __enter__(self) -> LineStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.deliveries.clear()
            self.requests.clear()
            self.faults.clear()
            self._reply_tokens.clear()
            self._retry_keys.clear()
            for channel in self.channels.values():
                channel.used = 0

    # --- state, for tests and the control API ---------------------------------------------------------

    def add_channel(
        self,
        *,
        channel_id: str | None = None,
        channel_secret: str | None = None,
        access_token: str | None = None,
        bot_user_id: str | None = None,
        login_channel_id: str = "",
        quota_limit: int | None = None,
        display_name: str = "官方帳號",
        basic_id: str | None = None,
    ) -> StandInChannel:
        channel = StandInChannel(
            channel_id=channel_id or str(secrets.randbelow(9 * 10**9) + 10**9),
            channel_secret=channel_secret or secrets.token_hex(16),
            access_token=access_token or secrets.token_urlsafe(48),
            bot_user_id=bot_user_id or wh.user_id(),
            login_channel_id=login_channel_id,
            quota_limit=quota_limit,
            display_name=display_name,
            basic_id=basic_id or f"@{secrets.randbelow(900) + 100}{secrets.token_hex(3)}",
        )
        with self._lock:
            self.channels[channel.access_token] = channel
        return channel

    def revoke_token(self, access_token: str) -> None:
        """The token stops working (LINE answers 401), as when it is reissued in the console."""
        with self._lock:
            self.channels.pop(access_token, None)

    def channel(self, channel_id: str) -> StandInChannel:
        with self._lock:
            return next(c for c in self.channels.values() if c.channel_id == channel_id)

    def add_user(
        self, user_id: str | None = None, display_name: str = "測試顧客", **fields: Any
    ) -> StandInUser:
        user = StandInUser(user_id=user_id or wh.user_id(), display_name=display_name, **fields)
        with self._lock:
            self.users[user.user_id] = user
        return user

    def add_content(
        self, message_id: str, data: bytes, content_type: str = "image/jpeg", transcoding: str = "succeeded"
    ) -> None:
        with self._lock:
            self.contents[message_id] = (data, content_type, transcoding)

    def inject(
        self,
        kind: str,
        *,
        count: int = 1,
        status: int = 500,
        latency: float = 0.0,
        paths: tuple[str, ...] | list[str] | None = None,
        message: str = "",
    ) -> Fault:
        """The next `count` matching requests fail: kind "status" (with `status`), "rate" (429),
        "quota" (429 monthly limit), or "latency" (handled normally, answered `latency` seconds late)."""
        fault = Fault(
            kind=kind,
            remaining=count,
            status=status,
            latency=latency,
            paths=tuple(paths) if paths else SEND_PATHS,
            message=message,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def issue_reply_token(self, channel_id: str, to: str) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(channel_id, to, time.monotonic())
        return token

    def expire_reply_tokens(self) -> None:
        with self._lock:
            for token in self._reply_tokens.values():
                token.issued_at -= self.reply_token_life + 1

    def delivered(self, user_id: str | None = None, *, via: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self.deliveries
                if (user_id is None or d.to == user_id) and (via is None or d.via == via)
            ]

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def mint_id_token(
        self,
        user_id: str,
        *,
        client_id: str,
        nonce: str | None = None,
        ttl: int = 600,
        name: str | None = None,
        picture: str | None = None,
    ) -> str:
        """A LINE Login ID token for a simulated user (HS256 with this stand-in's key)."""
        user = self.users.get(user_id)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://access.line.me",
            "sub": user_id,
            "aud": client_id,
            "exp": now + ttl,
            "iat": now,
            "amr": ["linesso"],
        }
        if nonce:
            claims["nonce"] = nonce
        if name:
            claims["name"] = name
        elif user is not None:
            claims["name"] = user.display_name
        if picture:
            claims["picture"] = picture
        elif user is not None and user.picture_url:
            claims["picture"] = user.picture_url
        return id_tokens.sign(self._id_token_key, claims)

    def webhook_sender(
        self, url: str, channel: StandInChannel, *, timeout: float = 5.0
    ) -> wh.LineWebhookSender:
        """A sender whose events carry reply tokens issued here (and whose follow/unfollow we remember)."""

        def issue(event: dict[str, Any]) -> str | None:
            source = event.get("source") or {}
            target = source.get("groupId") or source.get("roomId") or source.get("userId") or ""
            uid = source.get("userId")
            if uid and event.get("type") in ("follow", "unfollow"):
                with self._lock:
                    user = self.users.get(uid) or self.add_user(uid)
                    user.blocked = event["type"] == "unfollow"
            return self.issue_reply_token(channel.channel_id, target)

        return wh.LineWebhookSender(
            url,
            channel_secret=channel.channel_secret,
            destination=channel.bot_user_id,
            reply_token_issuer=issue,
            timeout=timeout,
        )

    # --- HTTP ------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=3 * 1024 * 1024)
        bot = "/v2/bot"
        app.router.add_post(f"{bot}/message/reply", self._reply)
        app.router.add_post(f"{bot}/message/push", self._push)
        app.router.add_post(f"{bot}/message/multicast", self._multicast)
        app.router.add_get(f"{bot}/profile/{{user_id}}", self._profile)
        app.router.add_get(f"{bot}/message/quota", self._quota)
        app.router.add_get(f"{bot}/message/quota/consumption", self._consumption)
        app.router.add_get(f"{bot}/message/{{message_id}}/content", self._content)
        app.router.add_get(f"{bot}/message/{{message_id}}/content/preview", self._content)
        app.router.add_get(f"{bot}/message/{{message_id}}/content/transcoding", self._transcoding)
        app.router.add_post(f"{bot}/chat/loading/start", self._loading)
        app.router.add_post("/oauth2/v2.1/verify", self._verify_id_token)
        ChannelRoutes(self).add_routes(app)
        ControlApi(self).add_routes(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        request[REQUEST_ID] = request_id
        response: web.StreamResponse
        fault = self._take_fault(request.path)
        delay = 0.0
        if fault is not None and fault.kind == "latency":
            # The request is handled at once and the answer is late: like LINE accepting a push
            # whose response the client never sees (the case retry keys exist for).
            delay, fault = fault.latency, None
        if fault is not None:
            if fault.kind == "quota":
                response = web.json_response({"message": QUOTA_MESSAGE}, status=429)
            elif fault.kind == "rate":
                response = web.json_response({"message": RATE_MESSAGE}, status=429)
            else:
                default = "Internal server error" if fault.status >= 500 else "Injected error"
                response = web.json_response({"message": fault.message or default}, status=fault.status)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = web.json_response({"message": exc.reason}, status=exc.status)
        response.headers["x-line-request-id"] = request_id
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status,
                    "retry_key": request.headers.get("X-Line-Retry-Key", ""),
                    "request_id": request_id,
                }
            )
        return response

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and any(path.startswith(prefix) for prefix in fault.paths):
                    fault.remaining -= 1
                    return fault
            self.faults = [fault for fault in self.faults if fault.remaining > 0]
        return None

    def _channel_of(self, request: web.Request) -> StandInChannel | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        with self._lock:
            return self.channels.get(auth[len("Bearer ") :].strip())

    def _record(
        self,
        channel: StandInChannel,
        to: str,
        via: str,
        messages: list[dict[str, Any]],
        request_id: str,
        retry_key: str = "",
    ) -> list[dict[str, str]]:
        sent = [{"id": _sent_id(), "quoteToken": secrets.token_urlsafe(24)} for _ in messages]
        with self._lock:
            user = self.users.get(to)
            if user is None or not user.blocked:  # LINE answers 200 to a blocked user but delivers nothing
                self.deliveries.append(
                    Delivery(
                        channel.channel_id, to, via, messages, request_id, [s["id"] for s in sent], retry_key
                    )
                )
        return sent

    async def _reply(self, request: web.Request) -> web.Response:
        channel = self._channel_of(request)
        if channel is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        if request.headers.get("X-Line-Retry-Key"):
            return bad_request("The retry key is not supported for this endpoint")
        body, error = await validated(request, ReplyMessageRequest)
        if error is not None:
            return error
        assert body is not None  # validated gives a body whenever it gives no error
        with self._lock:
            token = self._reply_tokens.get(body["replyToken"])
            fresh = token is not None and time.monotonic() - token.issued_at <= self.reply_token_life
            if token is None or token.used or not fresh or token.channel_id != channel.channel_id:
                return bad_request("Invalid reply token")
            token.used = True
        sent = self._record(channel, token.to, "reply", body["messages"], request[REQUEST_ID])
        return web.json_response({"sentMessages": sent})

    def _retry_key(self, request: web.Request, channel: StandInChannel) -> tuple[str, web.Response | None]:
        key = request.headers.get("X-Line-Retry-Key", "")
        if not key:
            return "", None
        try:
            uuid.UUID(key)
        except ValueError:
            return key, bad_request("The value of the X-Line-Retry-Key header is invalid")
        with self._lock:
            accepted = self._retry_keys.get((channel.channel_id, key.lower()))
        if accepted is None:
            return key, None
        request_id, sent = accepted
        body: dict[str, Any] = {"message": "The retry key is already accepted"}
        if request.path.endswith("/push"):
            body["sentMessages"] = sent
        response = web.json_response(body, status=409)
        response.headers["x-line-accepted-request-id"] = request_id
        return key, response

    def _charge(self, channel: StandInChannel, count: int) -> web.Response | None:
        with self._lock:
            if channel.quota_limit is not None and channel.used + count > channel.quota_limit:
                return web.json_response({"message": QUOTA_MESSAGE}, status=429)
            channel.used += count
        return None

    async def _push(self, request: web.Request) -> web.Response:
        channel = self._channel_of(request)
        if channel is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        key, error = self._retry_key(request, channel)
        if error is not None:
            return error
        body, error = await validated(request, PushMessageRequest)
        if error is not None:
            return error
        assert body is not None  # validated gives a body whenever it gives no error
        if not TO_PATTERN.match(body["to"]):
            return bad_request("The property, 'to', in the request body is invalid (line: -, column: -)")
        error = self._charge(channel, 1)
        if error is not None:
            return error
        sent = self._record(channel, body["to"], "push", body["messages"], request[REQUEST_ID], key)
        if key:
            with self._lock:
                self._retry_keys[(channel.channel_id, key.lower())] = (request[REQUEST_ID], sent)
        return web.json_response({"sentMessages": sent})

    async def _multicast(self, request: web.Request) -> web.Response:
        channel = self._channel_of(request)
        if channel is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        key, error = self._retry_key(request, channel)
        if error is not None:
            return error
        body, error = await validated(request, MulticastRequest)
        if error is not None:
            return error
        assert body is not None  # validated gives a body whenever it gives no error
        if any(
            not (isinstance(to, str) and to.startswith("U") and TO_PATTERN.match(to)) for to in body["to"]
        ):
            return bad_request("The property, 'to', in the request body is invalid (line: -, column: -)")
        error = self._charge(channel, len(body["to"]))
        if error is not None:
            return error
        for to in body["to"]:
            self._record(channel, to, "multicast", body["messages"], request[REQUEST_ID], key)
        if key:
            with self._lock:
                self._retry_keys[(channel.channel_id, key.lower())] = (request[REQUEST_ID], [])
        return web.json_response({})

    async def _profile(self, request: web.Request) -> web.Response:
        if self._channel_of(request) is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        with self._lock:
            user = self.users.get(request.match_info["user_id"])
        if user is None or user.blocked:
            return web.json_response({"message": "Not found"}, status=404)
        body = {"userId": user.user_id, "displayName": user.display_name, "language": user.language}
        if user.picture_url:
            body["pictureUrl"] = user.picture_url
        if user.status_message:
            body["statusMessage"] = user.status_message
        return web.json_response(body)

    async def _content(self, request: web.Request) -> web.StreamResponse:
        if self._channel_of(request) is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        with self._lock:
            content = self.contents.get(request.match_info["message_id"])
        if content is None:
            return web.json_response({"message": "Not found"}, status=404)
        data, content_type, transcoding = content
        if transcoding == "processing":
            return web.json_response({}, status=202)
        if transcoding == "failed":
            return web.json_response({"message": "Not found"}, status=404)
        return web.Response(body=data, content_type=content_type)

    async def _transcoding(self, request: web.Request) -> web.Response:
        if self._channel_of(request) is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        with self._lock:
            content = self.contents.get(request.match_info["message_id"])
        if content is None:
            return web.json_response({"message": "Not found"}, status=404)
        return web.json_response({"status": content[2]})

    async def _loading(self, request: web.Request) -> web.Response:
        if self._channel_of(request) is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        body, error = await validated(request, ShowLoadingAnimationRequest)
        if error is not None:
            return error
        assert body is not None  # validated gives a body whenever it gives no error
        seconds = body.get("loadingSeconds", 20)
        if seconds % 5:
            return bad_request(
                "The request body has 1 error(s)",
                [{"message": "Must be a multiple of 5", "property": "loadingSeconds"}],
            )
        if not TO_PATTERN.match(body["chatId"]) or not body["chatId"].startswith("U"):
            return bad_request("The property, 'chatId', in the request body is invalid")
        return web.json_response({}, status=202)

    async def _quota(self, request: web.Request) -> web.Response:
        channel = self._channel_of(request)
        if channel is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        if channel.quota_limit is None:
            return web.json_response({"type": "none"})
        return web.json_response({"type": "limited", "value": channel.quota_limit})

    async def _consumption(self, request: web.Request) -> web.Response:
        channel = self._channel_of(request)
        if channel is None:
            return web.json_response({"message": AUTH_MESSAGE}, status=401)
        return web.json_response({"totalUsage": channel.used})

    async def _verify_id_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        id_token, client_id = str(form.get("id_token") or ""), str(form.get("client_id") or "")

        def invalid(description: str) -> web.Response:
            return web.json_response(
                {"error": "invalid_request", "error_description": description}, status=400
            )

        if not id_token or not client_id:
            return invalid("id_token and client_id are required.")
        try:
            claims = id_tokens.read(self._id_token_key, id_token)
        except ValueError:
            return invalid("Invalid IdToken.")
        if claims.get("exp", 0) < time.time():
            return invalid("IdToken expired.")
        if claims.get("aud") != client_id:
            return invalid("Invalid IdToken Audience.")
        if form.get("nonce") and claims.get("nonce") != form.get("nonce"):
            return invalid("Invalid IdToken Nonce.")
        if form.get("user_id") and claims.get("sub") != form.get("user_id"):
            return invalid("Invalid IdToken Subject Identifier.")
        return web.json_response(claims)


def serve(
    host: str = "127.0.0.1", port: int = 8091, *, setup: Callable[[LineStandIn], None] | None = None
) -> None:
    """Run the stand-in in the foreground until interrupted (the `line_standin` command)."""
    standin = LineStandIn(host=host, port=port)
    if setup is not None:
        setup(standin)
    standin.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
