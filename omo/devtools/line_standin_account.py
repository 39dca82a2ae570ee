"""The stand-in's channel routes: bot info, the webhook URL and LINE's webhook test.

    GET  /v2/bot/info                          → {userId, basicId, displayName, chatMode, markAsReadMode}
    PUT  /v2/bot/channel/webhook/endpoint      {"endpoint": "https://…"} → {}
    GET  /v2/bot/channel/webhook/endpoint      → {endpoint, active}
    POST /v2/bot/channel/webhook/test          {"endpoint"?} → {success, timestamp, statusCode, reason, detail}

Bodies are validated with the SDK's request models; a missing or unknown Bearer token is a 401
(tests make a token invalid with `LineStandIn.revoke_token`). Like LINE, only HTTPS endpoints are
accepted. The test really posts a signed `{"destination", "events": []}` to the endpoint; since a
test machine has no certificate for the public host, `LineStandIn.webhook_hosts` may map an
https origin to the local http address that serves it (the stand-in's DNS, so to speak).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from linebot.v3.messaging import SetWebhookEndpointRequest, TestWebhookEndpointRequest

from omo.devtools import line_webhook_sender as wh
from omo.devtools.line_requests import bad_request, validated

if TYPE_CHECKING:
    from omo.devtools.line_standin import LineStandIn, StandInChannel

AUTH_MESSAGE = "Authentication failed. Confirm that the access token in the authorization header is valid."
WEBHOOK_TEST_TIMEOUT = 5.0


def _unauthorized() -> web.Response:
    return web.json_response({"message": AUTH_MESSAGE}, status=401)


def _https_only(endpoint: str) -> web.Response | None:
    if not endpoint.startswith("https://") or len(endpoint) > 500:
        return bad_request(
            "The request body has 1 error(s)",
            [{"message": "Must be a valid HTTPS URL", "property": "endpoint"}],
        )
    return None


class ChannelRoutes:
    def __init__(self, standin: LineStandIn) -> None:
        self.standin = standin

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/bot/info", self.bot_info)
        app.router.add_put("/v2/bot/channel/webhook/endpoint", self.set_endpoint)
        app.router.add_get("/v2/bot/channel/webhook/endpoint", self.get_endpoint)
        app.router.add_post("/v2/bot/channel/webhook/test", self.test_endpoint)

    def _channel(self, request: web.Request) -> StandInChannel | None:
        return self.standin._channel_of(request)

    async def bot_info(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _unauthorized()
        return web.json_response(
            {
                "userId": channel.bot_user_id,
                "basicId": channel.basic_id,
                "displayName": channel.display_name,
                "chatMode": "bot",
                "markAsReadMode": "auto",
            }
        )

    async def set_endpoint(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _unauthorized()
        body, error = await validated(request, SetWebhookEndpointRequest)
        if error is not None:
            return error
        assert body is not None
        refused = _https_only(body["endpoint"])
        if refused is not None:
            return refused
        channel.webhook_endpoint = body["endpoint"]
        return web.json_response({})

    async def get_endpoint(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _unauthorized()
        if not channel.webhook_endpoint:
            return web.json_response({"message": "Not found"}, status=404)
        return web.json_response({"endpoint": channel.webhook_endpoint, "active": True})

    async def test_endpoint(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _unauthorized()
        raw = await request.read()
        body: dict[str, Any] = {}
        if raw:
            parsed, error = await validated(request, TestWebhookEndpointRequest)
            if error is not None:
                return error
            body = parsed or {}
        endpoint = body.get("endpoint") or channel.webhook_endpoint
        if not endpoint:
            return bad_request("The webhook endpoint is not set")
        refused = _https_only(endpoint)
        if refused is not None:
            return refused
        return web.json_response(await self._deliver_test(channel, endpoint))

    async def _deliver_test(self, channel: StandInChannel, endpoint: str) -> dict[str, Any]:
        target = endpoint
        for origin, local in self.standin.webhook_hosts.items():
            if endpoint.startswith(origin):
                target = local.rstrip("/") + endpoint[len(origin) :]
                break
        payload = json.dumps(
            {"destination": channel.bot_user_id, "events": []}, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": wh.sign(channel.channel_secret, payload),
            "User-Agent": "LineBotWebhook/2.0",
        }
        now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        try:
            timeout = aiohttp.ClientTimeout(total=WEBHOOK_TEST_TIMEOUT)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(target, data=payload, headers=headers) as response:
                    status = response.status
                    text = (await response.text())[:200]
        except TimeoutError:
            return {
                "success": False,
                "timestamp": now,
                "statusCode": 0,
                "reason": "REQUEST_TIMEOUT",
                "detail": "",
            }
        except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:
            return {
                "success": False,
                "timestamp": now,
                "statusCode": 0,
                "reason": "COULD_NOT_CONNECT",
                "detail": str(exc)[:200],
            }
        if 200 <= status < 300:
            return {
                "success": True,
                "timestamp": now,
                "statusCode": status,
                "reason": "OK",
                "detail": str(status),
            }
        return {
            "success": False,
            "timestamp": now,
            "statusCode": status,
            "reason": "ERROR_STATUS_CODE",
            "detail": f"{status} {text}".strip(),
        }
