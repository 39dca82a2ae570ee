"""How the LINE stand-in checks a Messaging API request body, answering as LINE does.

Every body is validated with the SDK's own request models, plus the documented limits those
models do not check (text ≤5,000, altText ≤1,500, carousel ≤12 bubbles and ≤50 KB, quick reply
≤13); a refusal is LINE's 400 {"message", "details": [{"message", "property"}]}.
"""

from __future__ import annotations

import json
from typing import Any

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


def extra_checks(messages: list[Any]) -> list[dict[str, str]]:
    """Documented limits the SDK models do not enforce (platforms.md §A8)."""
    details = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        where = f"messages[{index}]"
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
