"""The JSON body a LIFF page posts: `{idToken, <field>}`, read the same way by every LIFF endpoint
(binding at /b/liff/bind, the shop's sign-in at /b/liff/shop/signin), with errors that name the part."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse

MAX_BODY = 16 * 1024


def liff_error(field: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": {"field": field, "message": message}}, status=status)


def read_liff_body(request: HttpRequest, field: str) -> tuple[str, str] | JsonResponse:
    """(ID token, the value of `field`), or the error answer: too large (413), not JSON (400), not
    an object (400), either part missing or not a string (400)."""
    if len(request.body) > MAX_BODY:
        return liff_error("body", "request too large", 413)
    shape = f'send JSON: {{"idToken": …, "{field}": …}}'
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return liff_error("body", shape, 400)
    if not isinstance(body, dict):
        return liff_error("body", "send a JSON object", 400)
    id_token, value = body.get("idToken"), body.get(field)
    if not isinstance(id_token, str) or not id_token:
        return liff_error("idToken", "required", 400)
    if not isinstance(value, str) or not value:
        return liff_error(field, "required", 400)
    return id_token, value
