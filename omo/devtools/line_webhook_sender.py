"""Build LINE webhook events the way LINE shapes them, and POST them signed exactly like LINE does.

Used by tests, the bench and the phone simulator to play the customer's side:

    sender = LineWebhookSender(url, channel_secret=secret, destination=bot_user_id)
    sender.send(text_event(user_id, "#C123"))          # → (status, body)
    sender.send(follow_event(user_id), postback_event(user_id, "bind:confirm:abc"))

Wire facts (../shared/reference/platforms.md §A1–A3): body `{"destination", "events": [...]}`;
`x-line-signature` = base64(HMAC-SHA256(channel secret, raw body)); timestamps in ms; a ULID in
`webhookEventId`; a redelivery keeps the same id and reply token with `isRedelivery: true`.

When the sender is made by the LINE stand-in (`LineStandIn.webhook_sender`), reply tokens come from
the stand-in, so a reply with them is accepted once, within the token's life.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ulid(timestamp_ms: int | None = None) -> str:
    """A ULID (26 Crockford base-32 characters: 48-bit time + 80 random bits), like webhookEventId."""
    value = ((timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)) << 80) | int.from_bytes(
        os.urandom(10), "big"
    )
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def user_id() -> str:
    return "U" + secrets.token_hex(16)


def group_id() -> str:
    return "C" + secrets.token_hex(16)


def room_id() -> str:
    return "R" + secrets.token_hex(16)


def reply_token() -> str:
    return secrets.token_hex(16)


def message_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)


def now_ms() -> int:
    return int(time.time() * 1000)


def sign(channel_secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_body(destination: str, events: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"destination": destination, "events": events}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def user_source(uid: str) -> dict[str, str]:
    return {"type": "user", "userId": uid}


def group_source(gid: str, uid: str | None = None) -> dict[str, str]:
    return {"type": "group", "groupId": gid, **({"userId": uid} if uid else {})}


def room_source(rid: str, uid: str | None = None) -> dict[str, str]:
    return {"type": "room", "roomId": rid, **({"userId": uid} if uid else {})}


def _event(
    event_type: str,
    source: dict[str, Any] | None,
    *,
    timestamp: int | None = None,
    event_id: str | None = None,
    mode: str = "active",
    redelivery: bool = False,
    token: str | None | bool = True,
    **fields: Any,
) -> dict[str, Any]:
    ts = timestamp if timestamp is not None else now_ms()
    event: dict[str, Any] = {"type": event_type, "mode": mode, "timestamp": ts}
    if source is not None:
        event["source"] = source
    event["webhookEventId"] = event_id or ulid(ts)
    event["deliveryContext"] = {"isRedelivery": redelivery}
    if token and mode == "active":  # standby events carry no reply token
        event["replyToken"] = token if isinstance(token, str) else reply_token()
    event.update(fields)
    return event


def _source(uid: str | dict[str, Any]) -> dict[str, Any]:
    return uid if isinstance(uid, dict) else user_source(uid)


def text_event(
    uid: str | dict[str, Any], text: str, *, quoted_message_id: str | None = None, **kw: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "text",
        "text": text,
        "quoteToken": secrets.token_urlsafe(24),
        "markAsReadToken": secrets.token_urlsafe(24),
    }
    if quoted_message_id:
        content["quotedMessageId"] = quoted_message_id
    return _event("message", _source(uid), message=content, **kw)


def image_event(uid: str | dict[str, Any], *, external_url: str | None = None, **kw: Any) -> dict[str, Any]:
    provider = (
        {"type": "external", "originalContentUrl": external_url, "previewImageUrl": external_url}
        if external_url
        else {"type": "line"}
    )
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "image",
        "contentProvider": provider,
        "quoteToken": secrets.token_urlsafe(24),
    }
    return _event("message", _source(uid), message=content, **kw)


def video_event(uid: str | dict[str, Any], *, duration: int = 60000, **kw: Any) -> dict[str, Any]:
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "video",
        "duration": duration,
        "contentProvider": {"type": "line"},
        "quoteToken": secrets.token_urlsafe(24),
    }
    return _event("message", _source(uid), message=content, **kw)


def audio_event(uid: str | dict[str, Any], *, duration: int = 5000, **kw: Any) -> dict[str, Any]:
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "audio",
        "duration": duration,
        "contentProvider": {"type": "line"},
    }
    return _event("message", _source(uid), message=content, **kw)


def file_event(
    uid: str | dict[str, Any], file_name: str = "receipt.pdf", file_size: int = 2048, **kw: Any
) -> dict[str, Any]:
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "file",
        "fileName": file_name,
        "fileSize": file_size,
    }
    return _event("message", _source(uid), message=content, **kw)


def location_event(
    uid: str | dict[str, Any],
    *,
    title: str = "台北101",
    address: str = "台北市信義區信義路五段7號",
    latitude: float = 25.033964,
    longitude: float = 121.564468,
    **kw: Any,
) -> dict[str, Any]:
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "location",
        "title": title,
        "address": address,
        "latitude": latitude,
        "longitude": longitude,
    }
    return _event("message", _source(uid), message=content, **kw)


def sticker_event(
    uid: str | dict[str, Any], *, package_id: str = "446", sticker_id: str = "1988", **kw: Any
) -> dict[str, Any]:
    content = {
        "id": kw.pop("message_id", None) or message_id(),
        "type": "sticker",
        "packageId": package_id,
        "stickerId": sticker_id,
        "stickerResourceType": "STATIC",
        "keywords": ["happy", "smile"],
        "quoteToken": secrets.token_urlsafe(24),
    }
    return _event("message", _source(uid), message=content, **kw)


def follow_event(uid: str, *, unblocked: bool = False, **kw: Any) -> dict[str, Any]:
    return _event("follow", user_source(uid), follow={"isUnblocked": unblocked}, **kw)


def unfollow_event(uid: str, **kw: Any) -> dict[str, Any]:
    return _event("unfollow", user_source(uid), token=None, **kw)


def postback_event(
    uid: str | dict[str, Any], data: str, *, params: dict[str, str] | None = None, **kw: Any
) -> dict[str, Any]:
    postback: dict[str, Any] = {"data": data}
    if params:
        postback["params"] = params
    return _event("postback", _source(uid), postback=postback, **kw)


def unsend_event(uid: str | dict[str, Any], unsent_message_id: str, **kw: Any) -> dict[str, Any]:
    return _event("unsend", _source(uid), token=None, unsend={"messageId": unsent_message_id}, **kw)


def redelivery_of(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as LINE redelivers it: same id, timestamp and reply token, isRedelivery true."""
    again = copy.deepcopy(event)
    again["deliveryContext"] = {"isRedelivery": True}
    return again


class LineWebhookSender:
    """POSTs events to one omo webhook URL, signed with the channel secret, like the LINE Platform."""

    def __init__(
        self,
        url: str,
        *,
        channel_secret: str,
        destination: str,
        reply_token_issuer: Callable[[dict[str, Any]], str | None] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.channel_secret = channel_secret
        self.destination = destination
        self.reply_token_issuer = reply_token_issuer
        self.timeout = timeout

    def body(self, *events: dict[str, Any]) -> bytes:
        if self.reply_token_issuer is not None:
            for event in events:
                if "replyToken" in event and not event.get("deliveryContext", {}).get("isRedelivery"):
                    token = self.reply_token_issuer(event)
                    if token:
                        event["replyToken"] = token
        return webhook_body(self.destination, list(events))

    def post_raw(
        self, body: bytes, *, signature: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST a body as is (signature computed unless given; pass "" to send none)."""
        sent_headers = {"content-type": "application/json; charset=utf-8", "user-agent": "LineBotWebhook/2.0"}
        signature = sign(self.channel_secret, body) if signature is None else signature
        if signature:
            sent_headers["x-line-signature"] = signature
        sent_headers.update(headers or {})
        request = urllib.request.Request(self.url, data=body, headers=sent_headers, method="POST")
        try:
            with _direct.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw or b"{}")
        except ValueError:
            return status, {"raw": raw.decode("utf-8", "replace")}

    def send(self, *events: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.post_raw(self.body(*events))
