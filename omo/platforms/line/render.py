"""omo outbound Messages → LINE message objects (checked with the SDK's models).

Payload keys per Message.kind (platform-neutral, written by omo.inbox.outbound.queue_message):

- text:     Message.text; optional payload["quick_replies"]
- flex:     payload["cards"] (+ "alt_text") → product carousel (omo.platforms.line.flex);
            or payload["line"], a ready LINE flex message object
- image:    payload["url"], payload["preview_url"]
- video:    payload["url"], payload["preview_url"]
- audio:    payload["url"], payload["duration_ms"]
- sticker:  payload["package_id"], payload["sticker_id"]
- location: payload["title"], payload["address"], payload["latitude"], payload["longitude"]

payload["quick_replies"]: [{"label", "text"} | {"label", "data", "display_text"?} | {"label", "uri"}],
at most 13, shown under the (last) message; "data" becomes a postback (e.g. "bind:confirm:<token>").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omo.catalog.line_images import is_line_url
from omo.platforms.line.adapter import LINE_LIMITS, validate_message
from omo.platforms.line.flex import product_carousel, validate_flex

if TYPE_CHECKING:
    from omo.inbox.models import Message

MAX_QUICK_REPLIES = 13


def _quick_reply(items: list[dict[str, Any]]) -> dict[str, Any]:
    actions = []
    for item in items[:MAX_QUICK_REPLIES]:
        label = str(item.get("label") or "")[:20]
        if item.get("data"):
            action = {"type": "postback", "label": label, "data": str(item["data"])[:300]}
            if item.get("display_text"):
                action["displayText"] = str(item["display_text"])[:300]
        elif item.get("uri"):
            action = {"type": "uri", "label": label, "uri": str(item["uri"])[:1000]}
        else:
            action = {"type": "message", "label": label, "text": str(item.get("text") or label)[:300]}
        actions.append({"type": "action", "action": action})
    return {"items": actions}


def _image_url(url: str, field: str) -> str:
    """An image URL as LINE takes it (HTTPS, a JPEG or PNG file, ≤2,000 characters), else a
    ValueError that says so instead of LINE's 400."""
    url = str(url or "")
    if not is_line_url(url):
        raise ValueError(f"LINE shows only HTTPS JPEG or PNG images: {field} {url[:200]!r} is neither")
    return url


def render_message(message: Message) -> list[dict[str, Any]]:
    payload = message.payload or {}
    kind = message.kind
    if kind == "text":
        text = message.text or payload.get("text") or ""
        if not text.strip():
            raise ValueError("a text message needs text")
        rendered: dict[str, Any] = {"type": "text", "text": text[: LINE_LIMITS.max_text_length]}
    elif kind == "flex":
        if payload.get("line"):
            rendered = dict(payload["line"])
            validate_flex(rendered)
        else:
            rendered = product_carousel(payload.get("cards") or [], alt_text=payload.get("alt_text"))
    elif kind == "image":
        rendered = {
            "type": "image",
            "originalContentUrl": _image_url(payload["url"], "url"),
            "previewImageUrl": _image_url(payload.get("preview_url") or payload["url"], "preview_url"),
        }
    elif kind == "video":
        rendered = {
            "type": "video",
            "originalContentUrl": payload["url"],
            "previewImageUrl": _image_url(payload.get("preview_url") or payload["url"], "preview_url"),
        }
    elif kind == "audio":
        rendered = {
            "type": "audio",
            "originalContentUrl": payload["url"],
            "duration": int(payload.get("duration_ms") or 1000),
        }
    elif kind == "sticker":
        rendered = {
            "type": "sticker",
            "packageId": str(payload.get("package_id") or payload.get("packageId")),
            "stickerId": str(payload.get("sticker_id") or payload.get("stickerId")),
        }
    elif kind == "location":
        rendered = {
            "type": "location",
            "title": str(payload.get("title") or "")[:100],
            "address": str(payload.get("address") or "")[:100],
            "latitude": float(payload["latitude"]),
            "longitude": float(payload["longitude"]),
        }
    else:
        raise ValueError(f"LINE cannot send a {kind!r} message")
    if payload.get("quick_replies"):
        rendered["quickReply"] = _quick_reply(list(payload["quick_replies"]))
    return [validate_message(rendered)]
