"""The same webhook steps as a plain Django view (for WSGI servers without the ASGI edge)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import WebhookReceipt
from omo.platforms.views import webhook

pytestmark = pytest.mark.django_db


def post(inbox, body: bytes, signature: str | None = None):
    signature = wh.sign(inbox.secrets["channel_secret"], body) if signature is None else signature
    request = RequestFactory().post(
        f"/webhooks/line/{inbox.pk}",
        body,
        content_type="application/json",
        headers={"X-Line-Signature": signature} if signature else {},
    )
    return webhook(request, "line", inbox.pk)


def test_view_stores_receipts_and_rejects_like_the_edge(line_inbox, line_user):
    event = wh.text_event(line_user.user_id, "hi")
    body = wh.webhook_body(line_inbox.bot_user_id, [event])

    assert post(line_inbox, body).status_code == 200
    assert post(line_inbox, body).status_code == 200  # redelivery: no second row
    assert WebhookReceipt.objects.get().event_id == event["webhookEventId"]

    assert post(line_inbox, body, signature="").status_code == 401
    assert post(line_inbox, b"{oops").status_code == 400
    assert post(line_inbox, b"x" * (1024 * 1024 + 1)).status_code == 413
    request = RequestFactory().post("/webhooks/line/999999", body, content_type="application/json")
    assert webhook(request, "line", 999999).status_code == 404
    assert WebhookReceipt.objects.count() == 1
