"""The webhook edge's steps as a plain Django view, for servers that do not run config.asgi.

Production and `omo serve` answer webhooks in the ASGI edge (omo/platforms/edge.py, ADR 003). Django's
WSGI servers (runserver, pytest-django's live_server used by browser tests) never reach it; route
this view for them:

    path("webhooks/<str:platform>/<int:inbox_id>", omo.platforms.views.webhook)

Same answers (413, 404, 401, 400, 200 after commit), one transaction per request (no group commit).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from omo.platforms import VERIFIERS, verifier_class
from omo.platforms.edge import commit_receipts, inbox_cache, load_inbox
from omo.platforms.tasks import start_processing


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, platform: str, inbox_id: int) -> JsonResponse:
    if platform not in VERIFIERS:
        return _error(404, "not_found", "no such platform")
    limits = verifier_class(platform).limits
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limits.max_webhook_body_bytes:
        return _error(
            413, "payload_too_large", f"the body is larger than {limits.max_webhook_body_bytes} bytes"
        )
    raw_body = request.body
    if len(raw_body) > limits.max_webhook_body_bytes:
        return _error(
            413, "payload_too_large", f"the body is larger than {limits.max_webhook_body_bytes} bytes"
        )
    found, edge_inbox = inbox_cache.get(inbox_id)
    if not found:
        edge_inbox = load_inbox(inbox_id)
        inbox_cache.put(inbox_id, edge_inbox)
    if edge_inbox is None or edge_inbox.platform != platform or not edge_inbox.is_active:
        return _error(404, "unknown_inbox", "no active inbox with this id")
    headers = {name.lower(): value for name, value in request.headers.items()}
    if not edge_inbox.verifier.verify(headers, raw_body):
        return _error(401, "invalid_signature", "the signature does not match the body")
    try:
        rows = edge_inbox.verifier.receipt_rows(json.loads(raw_body))
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, "malformed", str(exc)[:200])
    if rows:
        start_processing(commit_receipts([(inbox_id, rows)]))
    return JsonResponse({"received": len(rows)})
