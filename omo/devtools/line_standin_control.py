"""The LINE stand-in's control API, for other processes such as the phone simulator: JSON under
`/_standin/`: `GET health`, `POST reset`, `POST channels`, `POST users`, `POST faults`,
`POST reply-tokens`, `POST id-tokens`, `POST content`, `GET deliveries?user_id=…`, `POST webhooks`
(send signed events to omo, with reply tokens issued by the stand-in).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import asdict
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from omo.devtools.line_standin import LineStandIn


class ControlApi:
    """The control routes of one stand-in; each calls the stand-in's own Python API."""

    def __init__(self, standin: LineStandIn) -> None:
        self.standin = standin

    def add_routes(self, app: web.Application, prefix: str = "/_standin") -> None:
        app.router.add_get(f"{prefix}/health", self.health)
        app.router.add_post(f"{prefix}/reset", self.reset)
        app.router.add_post(f"{prefix}/channels", self.channel)
        app.router.add_post(f"{prefix}/users", self.user)
        app.router.add_post(f"{prefix}/faults", self.fault)
        app.router.add_post(f"{prefix}/reply-tokens", self.reply_token)
        app.router.add_post(f"{prefix}/id-tokens", self.id_token)
        app.router.add_post(f"{prefix}/content", self.content)
        app.router.add_get(f"{prefix}/deliveries", self.deliveries)
        app.router.add_post(f"{prefix}/webhooks", self.webhooks)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "channels": len(self.standin.channels), "users": len(self.standin.users)}
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.standin.reset()
        return web.json_response({"ok": True})

    async def channel(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = self.standin.add_channel(
            **{
                k: body[k]
                for k in (
                    "channel_id",
                    "channel_secret",
                    "access_token",
                    "bot_user_id",
                    "login_channel_id",
                    "quota_limit",
                )
                if k in body
            }
        )
        return web.json_response(asdict(channel))

    async def user(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.standin.add_user(
            body.get("user_id"),
            body.get("display_name") or "測試顧客",
            **{k: body[k] for k in ("picture_url", "status_message", "language", "blocked") if k in body},
        )
        return web.json_response(asdict(user))

    async def fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = self.standin.inject(
            body.get("kind", "status"),
            count=int(body.get("count", 1)),
            status=int(body.get("status", 500)),
            latency=float(body.get("latency", 0)),
            paths=body.get("paths"),
            message=body.get("message", ""),
        )
        return web.json_response(asdict(fault))

    async def reply_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {"replyToken": self.standin.issue_reply_token(body["channel_id"], body["to"])}
        )

    async def id_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        token = self.standin.mint_id_token(
            body["user_id"],
            client_id=body["client_id"],
            nonce=body.get("nonce"),
            ttl=int(body.get("ttl", 600)),
        )
        return web.json_response({"id_token": token})

    async def content(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.standin.add_content(
            body["message_id"],
            base64.b64decode(body.get("data_base64", "")),
            body.get("content_type", "image/jpeg"),
            body.get("transcoding", "succeeded"),
        )
        return web.json_response({"ok": True})

    async def deliveries(self, request: web.Request) -> web.Response:
        user_id = request.query.get("user_id") or None
        since = float(request.query.get("since", 0) or 0)
        rows = [asdict(d) for d in self.standin.delivered(user_id) if d.at > since]
        return web.json_response({"deliveries": rows})

    async def webhooks(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = self.standin.channel(str(body["channel_id"]))
        sender = self.standin.webhook_sender(body["url"], channel)
        status, answer = await asyncio.get_running_loop().run_in_executor(None, sender.send, *body["events"])
        return web.json_response({"status": status, "body": answer})
