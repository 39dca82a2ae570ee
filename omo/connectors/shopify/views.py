"""`POST /webhooks/shopify/<connection id>`: verify, record, answer 200; the work runs in a task.

Shopify gives a delivery 5 seconds. In production the ASGI edge (omo/connectors/shopify/edge.py)
answers this path before Django; this view serves servers without it (the test client, runserver),
with the same steps (webhooks.accept_webhook).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from omo.connectors.shopify import webhooks


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, connection_id: int) -> JsonResponse:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > webhooks.MAX_WEBHOOK_BYTES:
        return JsonResponse(
            {
                "error": "payload_too_large",
                "message": f"the body is larger than {webhooks.MAX_WEBHOOK_BYTES} bytes",
            },
            status=413,
        )
    try:
        accepted = webhooks.accept_webhook(connection_id, headers=request.headers, raw_body=request.body)
    except webhooks.WebhookRefused as refused:
        return JsonResponse({"error": refused.code, "message": refused.message}, status=refused.status)
    return JsonResponse({"received": True, "duplicate": accepted.duplicate})
