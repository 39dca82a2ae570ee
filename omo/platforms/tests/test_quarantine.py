"""No single webhook request or event blocks an inbox: what cannot be processed is quarantined with
its reason, shown on the account's page and in the API, and retried or discarded there; NUL
characters are removed from what LINE sends."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from omo.core.models import AuditLog
from omo.devtools import line_webhook_sender as wh
from omo.inbox import receipts
from omo.inbox.models import Message, WebhookIntake, WebhookReceipt
from omo.inbox.selectors import inbox_to_process
from omo.platforms.edge import WebhookEdge
from omo.platforms.tasks import process_pending
from omo.testing import factories as f
from omo.testing.line import call_asgi, post_line_webhook

pytestmark = pytest.mark.django_db

JSON = {"content-type": "application/json; charset=utf-8"}


def _texts() -> list[str]:
    return list(
        Message.objects.filter(direction="in").order_by("created_at", "id").values_list("text", flat=True)
    )


def _event(line_user, text: str, offset_ms: int = 0) -> dict:
    return wh.text_event(line_user.user_id, text, timestamp=wh.now_ms() + offset_ms)


# --- NUL characters -------------------------------------------------------------------------------------


def test_a_nul_in_a_message_is_removed_and_the_message_kept(line_inbox, line_user):
    status, _ = post_line_webhook(line_inbox, _event(line_user, "a\x00b"), _event(line_user, "後面", 1))
    assert status == 200

    assert process_pending(line_inbox.pk) == {"processed": 2}
    assert _texts() == ["ab", "後面"]
    assert WebhookReceipt.objects.get(event_type="message", payload__message__text="ab")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_nul_in_a_busy_inbox_does_not_block_the_messages_behind_it(line_inbox, line_user):
    """Busy: the edge stores requests whole (intakes) while a task waits. A NUL used to make every
    later split of the inbox fail on PostgreSQL (UntranslatableCharacter), holding every message."""
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    bodies = [
        wh.webhook_body(line_inbox.bot_user_id, [_event(line_user, text, i)])
        for i, text in enumerate(["先", "a\x00b", "後"])
    ]

    async def post(body):
        return await call_asgi(
            edge, f"/webhooks/line/{line_inbox.pk}", body, {"x-line-signature": wh.sign(secret, body), **JSON}
        )

    try:
        answers = [async_to_sync(post)(body) for body in bodies]
    finally:
        edge.close()

    assert [status for status, _ in answers] == [200, 200, 200]
    assert WebhookIntake.objects.count() == 2  # the second and third waited as whole requests
    assert process_pending(line_inbox.pk) == {"processed": 3}
    assert _texts() == ["先", "ab", "後"]
    assert not WebhookIntake.objects.exists()


# --- quarantine -----------------------------------------------------------------------------------------


def _intake(line_inbox, body: bytes) -> WebhookIntake:
    return WebhookIntake.objects.create(inbox=line_inbox, body=body, received_at=timezone.now())


def test_a_request_that_cannot_be_stored_is_quarantined_and_the_rest_flows_on(
    line_inbox, line_user, monkeypatch
):
    insert = receipts.insert_receipts

    def refusing(rows):
        if any("壞" in str(row.payload) for _, row, _ in rows):
            raise ValueError("the database refused this row")
        insert(rows)

    monkeypatch.setattr(receipts, "insert_receipts", refusing)
    _intake(line_inbox, wh.webhook_body(line_inbox.bot_user_id, [_event(line_user, "一")]))
    bad = _intake(line_inbox, wh.webhook_body(line_inbox.bot_user_id, [_event(line_user, "壞", 1)]))
    unparsable = _intake(line_inbox, b'{"events": "not a list"}')
    _intake(line_inbox, wh.webhook_body(line_inbox.bot_user_id, [_event(line_user, "二", 2)]))

    assert process_pending(line_inbox.pk) == {"processed": 2}
    assert process_pending(line_inbox.pk) == {}  # nothing left blocks a later run either

    assert _texts() == ["一", "二"]
    bad.refresh_from_db()
    unparsable.refresh_from_db()
    assert bad.failed_at is not None
    assert (
        bad.error == '{"reason":"not_stored","error":"ValueError","detail":"the database refused this row"}'
    )
    assert unparsable.error == '{"reason":"unparseable","detail":"\\"events\\" must be a list"}'
    assert inbox_to_process(line_inbox.pk)[1] is False  # quarantined intakes are not "waiting"

    total, rows = receipts.quarantined(line_inbox.pk)
    assert total == 2 and {(row.kind, row.id) for row in rows} == {
        ("intake", bad.pk),
        ("intake", unparsable.pk),
    }


def test_an_event_that_fails_is_quarantined_with_a_sentence_and_the_rest_flows_on(
    line_inbox, line_user, monkeypatch
):
    from omo.platforms.line import adapter as line_adapter

    parse = line_adapter.LineAdapter.parse_event

    def failing(self, event):
        if event.get("message", {}).get("text") == "壞":
            raise RuntimeError("the parser broke")
        return parse(self, event)

    monkeypatch.setattr(line_adapter.LineAdapter, "parse_event", failing)
    post_line_webhook(line_inbox, _event(line_user, "壞"), _event(line_user, "好", 1))

    assert process_pending(line_inbox.pk) == {"failed": 1, "processed": 1}
    assert _texts() == ["好"]
    failed = WebhookReceipt.objects.get(status="failed")
    assert failed.error.startswith(
        '{"reason":"processing_failed","error":"RuntimeError","detail":"the parser broke"}\n\nTraceback'
    )
    total, rows = receipts.quarantined(line_inbox.pk)
    assert total == 1
    assert (rows[0].kind, rows[0].event_type, rows[0].event_label, rows[0].reason) == (
        "receipt",
        "message",
        "訊息",
        "處理失敗（RuntimeError：the parser broke）。",
    )

    # fixed: retried from the API, processed
    monkeypatch.setattr(line_adapter.LineAdapter, "parse_event", parse)
    key = f.make_api_key(line_inbox.brand, role="hq_admin")
    api = f.ApiClient(key)
    answer = api.post(f"/api/v1/inboxes/{line_inbox.pk}/quarantine/receipt/{failed.pk}/retry")
    assert answer.status_code == 202, answer.content
    assert process_pending(line_inbox.pk) == {"processed": 1}
    assert _texts() == ["壞", "好"]
    assert AuditLog.objects.filter(action="inbox.webhook_retried", detail__row_id=failed.pk).exists()
    assert api.get(f"/api/v1/inboxes/{line_inbox.pk}/quarantine").json() == {"total": 0, "items": []}


def test_api_lists_and_discards_quarantined_rows(line_inbox, line_user):
    intake = _intake(line_inbox, b'{"events": 1}')
    process_pending(line_inbox.pk)
    api = f.ApiClient(f.make_api_key(line_inbox.brand, role="hq_admin"))

    listed = api.get(f"/api/v1/inboxes/{line_inbox.pk}/quarantine")

    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert listed.json()["total"] == 1
    assert (item["kind"], item["id"], item["event_type"]) == ("intake", intake.pk, "")
    assert (item["reason_code"], item["reason_params"]) == (
        "unparseable",
        {"detail": '"events" must be a list'},
    )
    assert item["reason"] == '儲存的請求內容無法解析："events" must be a list'
    in_english = f.ApiClient(api.key, language="en")
    english = in_english.get(f"/api/v1/inboxes/{line_inbox.pk}/quarantine").json()
    assert english["items"][0]["reason"] == 'The stored request does not parse: "events" must be a list'

    gone = api.delete(f"/api/v1/inboxes/{line_inbox.pk}/quarantine/intake/{intake.pk}")
    assert gone.status_code == 204
    assert not WebhookIntake.objects.exists()
    again = in_english.delete(f"/api/v1/inboxes/{line_inbox.pk}/quarantine/intake/{intake.pk}")
    assert again.status_code == 404 and "already retried or discarded" in again.json()["detail"]
    assert (
        "已重試或捨棄"
        in api.delete(f"/api/v1/inboxes/{line_inbox.pk}/quarantine/intake/{intake.pk}").json()["detail"]
    )
    assert AuditLog.objects.filter(action="inbox.webhook_discarded", detail__row_id=intake.pk).count() == 1


def test_a_discarded_event_stays_a_no_op_on_redelivery(line_inbox, line_user, monkeypatch):
    from omo.platforms.line import inbound

    monkeypatch.setattr(inbound, "apply", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    event = _event(line_user, "壞")
    post_line_webhook(line_inbox, event)
    process_pending(line_inbox.pk)
    failed = WebhookReceipt.objects.get(status="failed")
    api = f.ApiClient(f.make_api_key(line_inbox.brand, role="hq_admin"))

    assert api.delete(f"/api/v1/inboxes/{line_inbox.pk}/quarantine/receipt/{failed.pk}").status_code == 204

    failed.refresh_from_db()
    assert failed.status == "ignored" and failed.error.startswith("discarded by api_key:")
    post_line_webhook(line_inbox, event)  # redelivered
    assert WebhookReceipt.objects.count() == 1


def test_quarantine_api_refuses_other_brands_and_weaker_roles(line_inbox, other_brand, brand):
    intake = _intake(line_inbox, b'{"events": 1}')
    process_pending(line_inbox.pk)
    urls = [
        ("get", f"/api/v1/inboxes/{line_inbox.pk}/quarantine"),
        ("post", f"/api/v1/inboxes/{line_inbox.pk}/quarantine/intake/{intake.pk}/retry"),
        ("delete", f"/api/v1/inboxes/{line_inbox.pk}/quarantine/intake/{intake.pk}"),
    ]
    other = f.ApiClient(f.make_api_key(other_brand, role="hq_admin"))
    agent = f.ApiClient(f.make_api_key(brand, role="hq_agent"))
    for method, url in urls:
        assert getattr(other, method)(url).status_code == 404, url
        assert getattr(agent, method)(url).status_code == 403, url
    intake.refresh_from_db()
    assert intake.failed_at is not None
    assert not AuditLog.objects.filter(action__startswith="inbox.webhook_").exists()


def test_console_shows_the_reason_and_retries_and_discards(line_inbox, line_user, hq_admin, monkeypatch):
    from omo.platforms.line import inbound

    apply = inbound.apply
    monkeypatch.setattr(inbound, "apply", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    post_line_webhook(line_inbox, _event(line_user, "稍後"))
    process_pending(line_inbox.pk)
    monkeypatch.setattr(inbound, "apply", apply)
    receipt = WebhookReceipt.objects.get(status="failed")
    intake = _intake(line_inbox, b'{"events": 1}')
    process_pending(line_inbox.pk)
    client = Client()
    client.force_login(hq_admin)
    detail = reverse("console:platform_account_detail", args=[line_inbox.pk])

    page = client.get(detail).content.decode()

    assert 'data-testid="quarantine"' in page and "無法處理的 Webhook" in page
    assert f'data-testid="quarantined-receipt-{receipt.pk}"' in page
    assert "處理失敗（RuntimeError：boom）。" in page and "Traceback" not in page
    assert "儲存的請求內容無法解析" in page and "事件：訊息" in page
    assert '"reason"' not in page and "processing_failed" not in page

    retry = reverse(
        "console:platform_account_quarantine", args=[line_inbox.pk, "receipt", receipt.pk, "retry"]
    )
    assert client.post(retry).status_code == 302
    process_pending(line_inbox.pk)
    assert _texts() == ["稍後"]
    discard = reverse(
        "console:platform_account_quarantine", args=[line_inbox.pk, "intake", intake.pk, "discard"]
    )
    response = client.post(discard, follow=True)
    assert "已捨棄" in response.content.decode()
    assert not WebhookIntake.objects.exists()
    assert "沒有無法處理的 Webhook" in client.get(detail).content.decode()
    assert set(
        AuditLog.objects.filter(action__startswith="inbox.webhook_").values_list("action", flat=True)
    ) == {
        "inbox.webhook_retried",
        "inbox.webhook_discarded",
    }
