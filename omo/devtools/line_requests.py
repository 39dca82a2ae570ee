"""How the LINE stand-in checks a Messaging API request body, answering as LINE does.

Every body is validated with the SDK's own request models, plus the documented limits those
models do not check (text ≤5,000, altText ≤1,500, carousel ≤12 bubbles and ≤50 KB, quick reply
≤13); a refusal is LINE's 400 {"message", "details": [{"message", "property"}]}.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web


def error_details(exc: Exception) -> list[dict[str, str]]:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return [
                {
                    "message": str(error.get("msg", "")),
                    "property": ".".join(str(part) for part in error.get("loc", ()) if part != "__root__"),
                }
                for error in errors()
            ]
        except Exception:  # noqa: S110 - fall through to the plain message
            pass
    return [{"message": str(exc)[:300], "property": ""}]


# Image URLs LINE accepts (docs/line.md, "Images"): HTTPS, at most 2,000 characters, a JPEG or PNG
# file. LINE fetches the file only when a user opens the chat, so it refuses at send time what the
# URL shows; the stand-in reads the format from the path's extension, as omo writes its copies.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_IMAGE_URL = 2000


def image_url_problem(url: Any) -> str | None:
    """Why LINE would refuse this image URL, or None."""
    if not isinstance(url, str) or not url.lower().startswith("https://"):
        return "The URL must use HTTPS"
    if len(url) > MAX_IMAGE_URL:
        return f"Length must be between 0 and {MAX_IMAGE_URL}"
    if not urlsplit(url).path.lower().endswith(IMAGE_SUFFIXES):
        return "The image must be a JPEG or PNG file"
    return None


def _flex_images(node: Any, where: str) -> list[tuple[str, Any]]:
    """(property, url) of every image component in a flex container, however deep."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "image" and "url" in node:
            found.append((f"{where}.url", node["url"]))
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                found.extend(_flex_images(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for position, item in enumerate(node):
            found.extend(_flex_images(item, f"{where}[{position}]"))
    return found


def image_checks(message: dict[str, Any], where: str) -> list[dict[str, str]]:
    urls: list[tuple[str, Any]] = []
    kind = message.get("type")
    if kind == "image":
        urls += [(f"{where}.originalContentUrl", message.get("originalContentUrl"))]
        urls += [(f"{where}.previewImageUrl", message.get("previewImageUrl"))]
    elif kind == "video":
        urls += [(f"{where}.previewImageUrl", message.get("previewImageUrl"))]
    elif kind == "flex":
        urls += _flex_images(message.get("contents"), f"{where}.contents")
    for position, item in enumerate((message.get("quickReply") or {}).get("items") or []):
        if isinstance(item, dict) and item.get("imageUrl") is not None:
            urls.append((f"{where}.quickReply.items[{position}].imageUrl", item["imageUrl"]))
    details = []
    for prop, url in urls:
        problem = image_url_problem(url)
        if problem:
            details.append({"message": problem, "property": prop})
    return details


def extra_checks(messages: list[Any]) -> list[dict[str, str]]:
    """Documented limits the SDK models do not enforce (platforms.md §A8; images: docs/line.md)."""
    details = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        where = f"messages[{index}]"
        details.extend(image_checks(message, where))
        if message.get("type") == "text" and len(message.get("text") or "") > 5000:
            details.append({"message": "Length must be between 0 and 5000", "property": f"{where}.text"})
        if message.get("type") == "flex":
            if not 0 < len(message.get("altText") or "") <= 1500:
                details.append(
                    {"message": "Length must be between 1 and 1500", "property": f"{where}.altText"}
                )
            contents = message.get("contents") or {}
            size = len(json.dumps(contents, ensure_ascii=False).encode())
            if contents.get("type") == "carousel":
                if len(contents.get("contents") or []) > 12:
                    details.append(
                        {"message": "Size must be between 1 and 12", "property": f"{where}.contents.contents"}
                    )
                if size > 50 * 1024:
                    details.append({"message": "carousel exceeds 50 KB", "property": f"{where}.contents"})
            elif size > 30 * 1024:
                details.append({"message": "bubble exceeds 30 KB", "property": f"{where}.contents"})
        quick = (message.get("quickReply") or {}).get("items") or []
        if len(quick) > 13:
            details.append(
                {"message": "Size must be between 0 and 13", "property": f"{where}.quickReply.items"}
            )
    return details


def bad_request(message: str, details: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=400)


async def validated(request: web.Request, model: Any) -> tuple[dict[str, Any] | None, web.Response | None]:
    """The JSON body if the SDK model (and LINE's extra limits) accept it, else a LINE-style 400."""
    raw = await request.text()
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError:
        return None, bad_request(
            "The request body has 1 error(s)",
            [{"message": "May not be empty or invalid JSON", "property": ""}],
        )
    try:
        model.from_json(raw)
    except Exception as exc:  # pydantic ValidationError, unknown discriminators, wrong types
        details = error_details(exc)
        return None, bad_request(f"The request body has {len(details)} error(s)", details)
    extra = extra_checks(body.get("messages") or [])
    if extra:
        return None, bad_request(f"The request body has {len(extra)} error(s)", extra)
    return body, None
