"""The console's inbox pages: list, conversation, roster and canned replies, by role and brand."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from omo.binding import services as binding_services
from omo.core.models import AuditLog
from omo.inbox.models import CannedReply, Contact, Conversation, Inbox, Message
from omo.staff.models import Shift
from omo.testing import factories as f

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=TAIPEI)


@pytest.fixture
def make_conversation(db):
    inboxes: dict[int, Inbox] = {}

    def make(brand, name: str, **fields) -> Conversation:
        inbox = inboxes.get(brand.pk) or Inbox.objects.create(brand=brand, platform="webchat", name="web")
        inboxes[brand.pk] = inbox
        customer = f.make_customer(brand, name=name, phone="")
        contact = Contact.objects.create(
            brand=brand, inbox=inbox, external_user_id=f"u{customer.pk}", customer=customer, display_name=name
        )
        return Conversation.objects.create(
            brand=brand, inbox=inbox, contact=contact, customer=customer, **fields
        )

    return make


def inbound(conversation: Conversation, text: str, *, minutes_ago: int = 5) -> Message:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    message = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction="in",
        kind="text",
        text=text,
        status="received",
    )
    Message.objects.filter(pk=message.pk).update(created_at=at)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=at,
        last_message_preview=text,
        unread_count=conversation.unread_count + 1,
        waiting_since=conversation.waiting_since or at,
    )
    conversation.refresh_from_db()
    return message


@pytest.fixture
def hq_chat(brand, make_conversation):
    """An unbound customer waiting in the HQ queue, with a failed answer and a VIP label."""
    conversation = make_conversation(brand, "林大明", labels=["VIP"])
    inbound(conversation, "請問有門市取貨嗎", minutes_ago=12)
    Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction="out",
        kind="text",
        text="有的",
        status="failed",
        failure_reason="顧客已封鎖官方帳號 / the customer blocked the account",
    )
    return conversation


@pytest.fixture
def store_chat(brand, store, clerk, make_conversation):
    """A customer bound to the clerk of store TPE01, handled by that store's team."""
    conversation = make_conversation(brand, "陳小姐")
    binding_services.bind_customer(conversation.customer, clerk, source="manual")
    Conversation.objects.filter(pk=conversation.pk).update(queue="store", store=store, assignee=None)
    inbound(conversation, "尺寸還有嗎", minutes_ago=3)
    return conversation


@pytest.fixture
def far_chat(brand, other_store, make_conversation):
    conversation = make_conversation(brand, "高雄顧客", queue="store", store=other_store)
    inbound(conversation, "高雄店幾點開")
    return conversation


@pytest.fixture
def foreign_chat(other_brand, make_conversation):
    conversation = make_conversation(other_brand, "別家顧客")
    inbound(conversation, "別家訊息")
    return conversation


def names(response) -> list[str]:
    return [row["name"] for row in response.context["rows"]]


# --- list -------------------------------------------------------------------------------------------


def test_list_shows_each_row_with_clerk_handler_preview_unread_and_waiting(
    client_for, hq_agent, hq_chat, store_chat
):
    response = client_for(hq_agent).get(reverse("console:inbox"))
    assert response.status_code == 200
    assert names(response) == ["陳小姐", "林大明"]  # newest activity first
    body = response.content.decode()
    assert "尺寸還有嗎" in body and "請問有門市取貨嗎" in body
    rows = {row["name"]: row for row in response.context["rows"]}
    assert str(rows["陳小姐"]["bound_clerk"]) == "clerk"
    assert rows["林大明"]["bound_clerk"] is None
    assert rows["林大明"]["waiting"] == 12
    assert rows["陳小姐"]["conversation"].unread_count == 1
    assert "12 分鐘" in body and "門市團隊" in body and "台北信義店" in body
    assert 'data-inbox="list"' in body and "console/inbox.js" in body


def test_list_filters_by_queue_status_mine_and_label(client_for, hq_agent, hq_chat, store_chat, far_chat):
    client = client_for(hq_agent)
    url = reverse("console:inbox")
    assert names(client.get(url, {"queue": "store"})) == ["陳小姐", "高雄顧客"]
    assert names(client.get(url, {"queue": "hq"})) == ["林大明"]
    assert names(client.get(url, {"label": "VIP"})) == ["林大明"]
    assert names(client.get(url, {"mine": "on"})) == []
    Conversation.objects.filter(pk=hq_chat.pk).update(assignee=hq_agent)
    assert names(client.get(url, {"mine": "on"})) == ["林大明"]
    Conversation.objects.filter(pk=far_chat.pk).update(status="resolved")
    assert "高雄顧客" not in names(client.get(url))  # open only by default
    assert names(client.get(url, {"status": "resolved"})) == ["高雄顧客"]
    assert len(names(client.get(url, {"status": "all"}))) == 3
    bad = client.get(url, {"queue": "vip"})
    assert bad.status_code == 400 and "queue" in bad.context["form"].errors


def test_list_fragment_is_the_rows_only(client_for, hq_agent, hq_chat):
    response = client_for(hq_agent).get(reverse("console:inbox"), {"partial": "rows"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "林大明" in body and "<html" not in body


def test_store_manager_lists_only_their_store(
    client_for, manager, hq_chat, store_chat, far_chat, foreign_chat
):
    response = client_for(manager).get(reverse("console:inbox"))
    assert names(response) == ["陳小姐"]
    body = response.content.decode()
    for secret in ("林大明", "高雄顧客", "別家顧客"):
        assert secret not in body


# --- scope of one conversation ------------------------------------------------------------------------


def test_store_manager_cannot_open_or_change_another_stores_conversation(client_for, manager, far_chat):
    client = client_for(manager)
    assert client.get(reverse("console:inbox_conversation", args=[far_chat.pk])).status_code == 404
    response = client.post(reverse("console:inbox_reply", args=[far_chat.pk]), {"text": "hi"})
    assert response.status_code == 404
    assert not Message.objects.filter(conversation=far_chat, direction="out").exists()


def test_another_brand_gets_404_everywhere_on_our_conversation(client_for, other_admin, hq_chat):
    client = client_for(other_admin)
    assert client.get(reverse("console:inbox_conversation", args=[hq_chat.pk])).status_code == 404
    for name, data in [
        ("console:inbox_reply", {"text": "偷傳"}),
        ("console:inbox_note", {"note": "偷看"}),
        ("console:inbox_labels", {"labels": "x"}),
        ("console:inbox_assign", {"target": "hq"}),
        ("console:inbox_status", {"status": "resolved"}),
    ]:
        assert client.post(reverse(name, args=[hq_chat.pk]), data).status_code == 404, name
    hq_chat.refresh_from_db()
    assert (hq_chat.status, hq_chat.labels) == ("open", ["VIP"])
    assert hq_chat.messages.count() == 2


def test_a_failed_reply_is_retried_from_the_conversation(client_for, hq_agent, manager, hq_chat, far_chat):
    failed = hq_chat.messages.get(status="failed")
    client = client_for(hq_agent)
    page = client.get(reverse("console:inbox_conversation", args=[hq_chat.pk])).content.decode()
    retry_url = reverse("console:inbox_retry", args=[hq_chat.pk, failed.pk])
    assert retry_url in page and 'data-testid="retry"' in page
    # Only a failed outgoing message of this conversation can be retried.
    inbound_message = hq_chat.messages.get(direction="in")
    response = client.post(reverse("console:inbox_retry", args=[hq_chat.pk, inbound_message.pk]), follow=True)
    assert "only a failed outgoing message can be retried" in response.content.decode()
    assert client.post(reverse("console:inbox_retry", args=[far_chat.pk, failed.pk])).status_code == 404
    # A store manager cannot reach the HQ queue's conversation.
    assert client_for(manager).post(retry_url).status_code == 404
    failed.refresh_from_db()
    assert failed.status == "failed"

    response = client.post(retry_url)
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.failure_reason, failed.attempts) == (
        "queued",
        "",
        0,
    )  # delivery task after commit


def test_clerk_is_sent_to_the_clerk_app(client_for, clerk, store_chat):
    client = client_for(clerk)
    for url in [
        reverse("console:inbox"),
        reverse("console:inbox_conversation", args=[store_chat.pk]),
        reverse("console:inbox_roster"),
        reverse("console:inbox_canned"),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "店員 App" in response.content.decode()
    assert client.post(reverse("console:inbox_reply", args=[store_chat.pk]), {"text": "x"}).status_code == 403
    assert not Message.objects.filter(conversation=store_chat, direction="out").exists()


# --- the conversation page -----------------------------------------------------------------------------


def test_conversation_shows_timeline_with_delivery_failure_notes_and_assignments(
    client_for, hq_agent, hq_chat
):
    client = client_for(hq_agent)
    client.post(reverse("console:inbox_note", args=[hq_chat.pk]), {"note": "客人急件"})
    client.post(reverse("console:inbox_assign", args=[hq_chat.pk]), {"target": f"agent:{hq_agent.pk}"})
    response = client.get(reverse("console:inbox_conversation", args=[hq_chat.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "請問有門市取貨嗎" in body
    assert "傳送失敗" in body and "顧客已封鎖官方帳號" in body
    assert "內部備註" in body and "客人急件" in body
    assert "轉給 總部客服：手動指派" in body and "HQ agents" not in body
    kinds = [entry["message"].kind for entry in response.context["timeline"]]
    assert kinds == ["text", "text", "note", "event"]
    hq_chat.refresh_from_db()
    assert hq_chat.unread_count == 0  # opening it reads it


def test_reply_queues_an_outbound_message(client_for, hq_agent, hq_chat):
    response = client_for(hq_agent).post(
        reverse("console:inbox_reply", args=[hq_chat.pk]), {"text": " 您好！ "}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:inbox_conversation", args=[hq_chat.pk])
    message = Message.objects.get(conversation=hq_chat, direction="out", status="queued")
    assert (message.text, message.kind, message.sender) == ("您好！", "text", hq_agent)
    hq_chat.refresh_from_db()
    assert (hq_chat.waiting_since, hq_chat.last_message_preview) == (None, "您好！")


def test_empty_reply_is_refused_naming_the_field(client_for, hq_agent, hq_chat):
    response = client_for(hq_agent).post(reverse("console:inbox_reply", args=[hq_chat.pk]), {"text": "  "})
    assert response.status_code == 400
    assert "text" in response.context["reply_form"].errors
    assert "請輸入訊息內容" in response.content.decode()
    assert not Message.objects.filter(conversation=hq_chat, direction="out", status="queued").exists()


def test_canned_reply_is_offered_rendered_and_sent_with_variables(client_for, brand, hq_agent, store_chat):
    canned = CannedReply.objects.create(
        brand=brand, title="問候", body="{customer_name} 您好，我是 {clerk_name}（{store_name}）"
    )
    foreign = CannedReply.objects.create(brand=f.make_brand("X", slug="x"), title="別家", body="hi")
    client = client_for(hq_agent)
    page = client.get(reverse("console:inbox_conversation", args=[store_chat.pk]))
    assert [c["text"] for c in page.context["canned"]] == ["陳小姐 您好，我是 clerk（台北信義店）"]
    assert 'data-text="陳小姐 您好，我是 clerk（台北信義店）"' in page.content.decode()
    response = client.post(
        reverse("console:inbox_reply", args=[store_chat.pk]), {"text": "", "canned": canned.pk}
    )
    assert response.status_code == 302
    sent = Message.objects.get(conversation=store_chat, direction="out")
    assert sent.text == "陳小姐 您好，我是 clerk（台北信義店）" and sent.status == "queued"
    refused = client.post(reverse("console:inbox_reply", args=[store_chat.pk]), {"canned": foreign.pk})
    assert refused.status_code == 400 and "canned" in refused.context["reply_form"].errors
    assert Message.objects.filter(conversation=store_chat, direction="out").count() == 1


def test_note_and_labels(client_for, hq_agent, hq_chat):
    client = client_for(hq_agent)
    assert client.post(reverse("console:inbox_note", args=[hq_chat.pk]), {"note": "  "}).status_code == 400
    assert (
        client.post(reverse("console:inbox_note", args=[hq_chat.pk]), {"note": "喜歡綠色"}).status_code == 302
    )
    note = Message.objects.get(conversation=hq_chat, kind="note")
    assert (note.direction, note.text, note.sender) == ("internal", "喜歡綠色", hq_agent)
    response = client.post(
        reverse("console:inbox_labels", args=[hq_chat.pk]), {"labels": "VIP，退貨, 急件,VIP"}
    )
    assert response.status_code == 302
    hq_chat.refresh_from_db()
    assert hq_chat.labels == ["VIP", "退貨", "急件"]
    too_long = client.post(reverse("console:inbox_labels", args=[hq_chat.pk]), {"labels": "x" * 31})
    assert too_long.status_code == 400 and "labels" in too_long.context["labels_form"].errors
    hq_chat.refresh_from_db()
    assert hq_chat.labels == ["VIP", "退貨", "急件"]


def test_assignment_to_store_team_clerk_and_hq_agent_is_audited(
    client_for, hq_admin, hq_agent, store, clerk, hq_chat
):
    client = client_for(hq_admin)
    url = reverse("console:inbox_assign", args=[hq_chat.pk])
    assert client.post(url, {"target": f"store:{store.pk}"}).status_code == 302
    hq_chat.refresh_from_db()
    assert (hq_chat.queue, hq_chat.store_id, hq_chat.assignee_id) == ("store", store.pk, None)
    assert client.post(url, {"target": f"clerk:{clerk.pk}"}).status_code == 302
    hq_chat.refresh_from_db()
    assert (hq_chat.queue, hq_chat.assignee_id, hq_chat.store_id) == ("clerk", clerk.pk, store.pk)
    assert client.post(url, {"target": f"agent:{hq_agent.pk}"}).status_code == 302
    hq_chat.refresh_from_db()
    # HQ answers now; the store keeps owning the customer so its manager still sees it
    assert (hq_chat.queue, hq_chat.assignee_id, hq_chat.store_id) == ("hq", hq_agent.pk, store.pk)
    entries = AuditLog.objects.filter(action="inbox.conversation_assigned", target_id=str(hq_chat.pk))
    assert entries.count() == 3
    last = entries.order_by("-id").first()
    assert last.actor_user == hq_admin
    assert last.detail["assignee"] == hq_agent.pk
    assert last.detail["previous"] == {"queue": "clerk", "assignee": clerk.pk, "store": store.pk}
    events = Message.objects.filter(conversation=hq_chat, kind="event")
    assert events.count() == 3
    # the same target again changes nothing and writes nothing
    client.post(url, {"target": f"agent:{hq_agent.pk}"})
    assert entries.count() == 3 and events.count() == 3


def test_store_manager_assigns_only_within_their_store(client_for, manager, other_store, store_chat):
    client = client_for(manager)
    url = reverse("console:inbox_assign", args=[store_chat.pk])
    refused = client.post(url, {"target": f"store:{other_store.pk}"})
    assert refused.status_code == 400 and "target" in refused.context["assign_form"].errors
    agent = f.make_user(store_chat.brand, "agent2", role="hq_agent")
    assert client.post(url, {"target": f"agent:{agent.pk}"}).status_code == 400
    store_chat.refresh_from_db()
    assert (store_chat.queue, store_chat.assignee_id) == ("store", None)
    assert not AuditLog.objects.filter(action="inbox.conversation_assigned").exists()
    # handing it to HQ keeps it owned by the store: the manager still sees it
    assert client.post(url, {"target": "hq"}).status_code == 302
    store_chat.refresh_from_db()
    assert (store_chat.queue, store_chat.store_id) == ("hq", manager.store_id)


def test_close_and_reopen(client_for, hq_agent, hq_chat):
    client = client_for(hq_agent)
    url = reverse("console:inbox_status", args=[hq_chat.pk])
    assert client.post(url, {"status": "resolved"}).status_code == 302
    hq_chat.refresh_from_db()
    assert hq_chat.status == "resolved"
    page = client.get(reverse("console:inbox_conversation", args=[hq_chat.pk])).content.decode()
    assert "重新開啟" in page and f"已結案（{hq_agent}）" in page and "已結案 / closed" not in page
    assert client.post(url, {"status": "open"}).status_code == 302
    hq_chat.refresh_from_db()
    assert hq_chat.status == "open"
    assert client.post(url, {"status": "deleted"}).status_code == 400
    assert [m.payload["event"] for m in Message.objects.filter(conversation=hq_chat, kind="event")] == [
        "closed",
        "reopened",
    ]


def test_timeline_fragment_for_live_updates(client_for, hq_agent, hq_chat):
    client = client_for(hq_agent)
    inbound(hq_chat, "還在嗎？")
    response = client.get(reverse("console:inbox_conversation", args=[hq_chat.pk]), {"partial": "timeline"})
    body = response.content.decode()
    assert response.status_code == 200 and "還在嗎？" in body and "<html" not in body
    facts = client.get(reverse("console:inbox_conversation", args=[hq_chat.pk]), {"partial": "facts"})
    assert "VIP" in facts.content.decode()


# --- roster ---------------------------------------------------------------------------------------------


def shift_post(staff, store, starts: str, ends: str) -> dict[str, object]:
    return {"staff": staff.pk, "store": store.pk, "starts_at": starts, "ends_at": ends}


def test_roster_lists_the_week_by_store(client_for, hq_admin, clerk, store, other_store, brand):
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    Shift.objects.create(
        brand=brand, staff=clerk, store=store, starts_at=taipei(4, 11), ends_at=taipei(4, 20)
    )
    Shift.objects.create(
        brand=brand, staff=far, store=other_store, starts_at=taipei(5, 9), ends_at=taipei(5, 18)
    )
    Shift.objects.create(
        brand=brand, staff=clerk, store=store, starts_at=taipei(12, 11), ends_at=taipei(12, 20)
    )
    client = client_for(hq_admin)
    response = client.get(reverse("console:inbox_roster"), {"week": "2025-03-05"})
    assert response.status_code == 200 and response.context["monday"] == dt.date(2025, 3, 3)
    shown = [(s.staff.username, day["date"].day) for day in response.context["days"] for s in day["shifts"]]
    assert shown == [(clerk.username, 4), (far.username, 5)]
    assert "11:00 – 20:00" in response.content.decode()
    only = client.get(reverse("console:inbox_roster"), {"week": "2025-03-03", "store": other_store.pk})
    assert [s.staff_id for day in only.context["days"] for s in day["shifts"]] == [far.pk]


def test_add_shift_and_field_errors(client_for, hq_admin, clerk, store, other_brand):
    client = client_for(hq_admin)
    url = reverse("console:inbox_roster")
    ok = client.post(url, shift_post(clerk, store, "2025-03-04T11:00", "2025-03-04T20:00"))
    assert ok.status_code == 302 and ok["Location"].endswith("?week=2025-03-04")
    shift = Shift.objects.get()
    assert (shift.staff, shift.store, shift.starts_at, shift.ends_at) == (
        clerk,
        store,
        taipei(4, 11),
        taipei(4, 20),
    )
    assert AuditLog.objects.filter(action="roster.shift_created").count() == 1

    backwards = client.post(url, shift_post(clerk, store, "2025-03-05T20:00", "2025-03-05T11:00"))
    assert backwards.status_code == 400
    assert list(backwards.context["form"].errors) == ["ends_at"]
    assert "結束時間必須晚於開始時間" in backwards.content.decode()

    overlap = client.post(url, shift_post(clerk, store, "2025-03-04T19:00", "2025-03-04T22:00"))
    assert overlap.status_code == 400 and list(overlap.context["form"].errors) == ["starts_at"]

    outsider = f.make_user(other_brand, "stranger", role="clerk", store=f.make_store(other_brand, code="O1"))
    foreign = client.post(url, shift_post(outsider, store, "2025-03-06T11:00", "2025-03-06T20:00"))
    assert foreign.status_code == 400 and list(foreign.context["form"].errors) == ["staff"]
    assert Shift.objects.count() == 1


def test_roster_editing_is_for_admins_and_the_stores_manager(
    client_for, hq_agent, manager, clerk, store, other_store, brand, other_admin
):
    url = reverse("console:inbox_roster")
    data = shift_post(clerk, store, "2025-03-04T11:00", "2025-03-04T20:00")
    assert client_for(hq_agent).get(url).status_code == 200  # agents read the roster
    assert client_for(hq_agent).post(url, data).status_code == 403
    assert client_for(manager).post(url, data).status_code == 302
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    refused = client_for(manager).post(
        url, shift_post(far, other_store, "2025-03-04T11:00", "2025-03-04T20:00")
    )
    assert refused.status_code == 400 and set(refused.context["form"].errors) == {"staff", "store"}
    far_shift = Shift.objects.create(
        brand=brand, staff=far, store=other_store, starts_at=taipei(6, 9), ends_at=taipei(6, 18)
    )
    delete = reverse("console:inbox_shift_delete", args=[far_shift.pk])
    assert client_for(manager).post(delete).status_code == 403
    assert client_for(hq_agent).post(delete).status_code == 403
    assert client_for(other_admin).post(delete).status_code == 404
    assert Shift.objects.filter(pk=far_shift.pk).exists()
    own = Shift.objects.get(staff=clerk)
    response = client_for(manager).post(reverse("console:inbox_shift_delete", args=[own.pk]))
    assert response.status_code == 302 and not Shift.objects.filter(pk=own.pk).exists()
    assert AuditLog.objects.filter(action="roster.shift_deleted").count() == 1


ROSTER_CSV = (
    "employee_code,store,date,start,end\n"
    "E001,TPE01,2025-03-04,11:00,20:00\n"
    "E404,TPE01,2025-03-04,11:00,20:00\n"
    "E001,台北信義店,2025/03/05,9:00,18:00\n"
    "E001,TPE01,2025-03-06,25:00,20:00\n"
    "E001,TPE01,2025-03-04,19:00,22:00\n"
    "E001,沒有這家店,2025-03-07,11:00,20:00\n"
)


def upload(client, content: bytes, mode: str = "valid_rows"):
    return client.post(
        reverse("console:inbox_roster_import"),
        {"file": SimpleUploadedFile("roster.csv", content, content_type="text/csv"), "mode": mode},
    )


def test_csv_import_applies_good_rows_and_reports_bad_ones(client_for, hq_admin, clerk, store):
    response = upload(client_for(hq_admin), "\ufeff".encode() + ROSTER_CSV.encode("utf-8"))
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.rows, report.created, report.applied) == (6, 2, True)
    assert [(e["row"], e["field"]) for e in report.errors] == [
        (3, "employee_code"),
        (5, "start"),
        (6, "starts_at"),
        (7, "store"),
    ]
    assert sorted((s.starts_at, s.ends_at) for s in Shift.objects.all()) == [
        (taipei(4, 11), taipei(4, 20)),
        (taipei(5, 9), taipei(5, 18)),
    ]
    body = response.content.decode()
    assert "已匯入 2 個班別" in body and "查無此員工編號" in body


def test_csv_import_all_or_nothing_keeps_nothing_when_a_row_is_bad(client_for, hq_admin, clerk, store):
    response = upload(client_for(hq_admin), ROSTER_CSV.encode("utf-8"), mode="all_or_nothing")
    report = response.context["report"]
    assert (report.created, report.applied, len(report.errors)) == (0, False, 4)
    assert not Shift.objects.exists()
    assert "全部未匯入" in response.content.decode()


def test_csv_import_reads_big5_with_store_names(client_for, hq_admin, clerk, store):
    text = "employee_code,store,date,start,end\r\nE001,台北信義店,2025-03-08,18:00,02:00\r\n"
    response = upload(client_for(hq_admin), text.encode("big5"), mode="all_or_nothing")
    report = response.context["report"]
    assert (report.created, report.errors) == (1, [])
    night = Shift.objects.get()
    assert (night.store, night.starts_at, night.ends_at) == (store, taipei(8, 18), taipei(9, 2))


def test_csv_import_refuses_a_file_without_the_columns(client_for, hq_admin, hq_agent):
    response = upload(client_for(hq_admin), b"name,day\nA,1\n")
    assert response.status_code == 400
    assert "missing columns" in str(response.context["import_form"].errors["file"])
    assert upload(client_for(hq_agent), ROSTER_CSV.encode()).status_code == 403
    assert not Shift.objects.exists()


# --- canned replies ---------------------------------------------------------------------------------------


def test_canned_page_lists_brand_wide_and_own_and_documents_variables(client_for, brand, hq_agent, hq_admin):
    CannedReply.objects.create(brand=brand, title="營業時間", body="每天 11:00 營業")
    CannedReply.objects.create(brand=brand, owner=hq_agent, title="我的問候", body="您好")
    CannedReply.objects.create(brand=brand, owner=hq_admin, title="管理員私人", body="x")
    response = client_for(hq_agent).get(reverse("console:inbox_canned"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "營業時間" in body and "我的問候" in body and "管理員私人" not in body
    for variable in ("{customer_name}", "{clerk_name}", "{store_name}"):
        assert variable in body
    assert response.context["form"].fields["scope"].choices == [("personal", "個人（只有我）")]


def test_hq_admin_manages_brand_wide_replies(client_for, brand, hq_admin):
    client = client_for(hq_admin)
    created = client.post(
        reverse("console:inbox_canned"),
        {"title": "問候", "shortcut": "hi", "body": "{customer_name} 您好", "scope": "brand"},
    )
    assert created.status_code == 302
    canned = CannedReply.objects.get()
    assert (canned.owner, canned.title, canned.shortcut) == (None, "問候", "hi")
    edited = client.post(
        reverse("console:inbox_canned_edit", args=[canned.pk]),
        {"title": "問候語", "shortcut": "", "body": "{customer_name} 午安"},
    )
    assert edited.status_code == 302
    canned.refresh_from_db()
    assert (canned.title, canned.body, canned.owner) == ("問候語", "{customer_name} 午安", None)
    bad = client.post(
        reverse("console:inbox_canned_edit", args=[canned.pk]), {"title": "問候語", "body": "{price} 元"}
    )
    assert bad.status_code == 400 and "body" in bad.context["form"].errors
    assert "unknown variable" in bad.content.decode()
    assert client.post(reverse("console:inbox_canned_delete", args=[canned.pk])).status_code == 302
    assert not CannedReply.objects.exists()


def test_weaker_roles_keep_to_their_own_replies(client_for, brand, hq_agent, manager, other_admin):
    shared = CannedReply.objects.create(brand=brand, title="全品牌", body="hi")
    for user in (hq_agent, manager):
        client = client_for(user)
        assert (
            client.post(
                reverse("console:inbox_canned"), {"title": "t", "body": "b", "scope": "brand"}
            ).status_code
            == 403
        )
        assert client.get(reverse("console:inbox_canned_edit", args=[shared.pk])).status_code == 403
        assert client.post(reverse("console:inbox_canned_delete", args=[shared.pk])).status_code == 403
    assert CannedReply.objects.filter(owner__isnull=True).count() == 1
    own = client_for(hq_agent).post(
        reverse("console:inbox_canned"), {"title": "我的", "body": "謝謝 {customer_name}"}
    )
    assert own.status_code == 302
    mine = CannedReply.objects.get(title="我的")
    assert mine.owner == hq_agent
    # someone else's personal reply, or another brand's, does not exist for them
    assert client_for(manager).get(reverse("console:inbox_canned_edit", args=[mine.pk])).status_code == 404
    assert client_for(manager).post(reverse("console:inbox_canned_delete", args=[mine.pk])).status_code == 404
    assert (
        client_for(other_admin).get(reverse("console:inbox_canned_edit", args=[shared.pk])).status_code == 404
    )
    assert (
        client_for(other_admin).post(reverse("console:inbox_canned_delete", args=[shared.pk])).status_code
        == 404
    )
    assert CannedReply.objects.count() == 2
    missing_title = client_for(hq_agent).post(reverse("console:inbox_canned"), {"title": "", "body": "x"})
    assert missing_title.status_code == 400 and "title" in missing_title.context["form"].errors


# --- sweep: every inbox page by brand and role -------------------------------------------------------------

INBOX_LIST_PAGES = ["console:inbox", "console:inbox_roster", "console:inbox_canned"]


def test_inbox_pages_sweep(client, client_for, hq_admin, other_admin, clerk, hq_chat, brand, store):
    canned = CannedReply.objects.create(brand=brand, title="機密罐頭", body="機密內容")
    shift = Shift.objects.create(
        brand=brand,
        staff=clerk,
        store=store,
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=8),
    )
    object_urls = [
        reverse("console:inbox_conversation", args=[hq_chat.pk]),
        reverse("console:inbox_canned_edit", args=[canned.pk]),
    ]
    post_urls = [
        reverse(name, args=[hq_chat.pk])
        for name in [
            "console:inbox_reply",
            "console:inbox_note",
            "console:inbox_labels",
            "console:inbox_assign",
            "console:inbox_status",
        ]
    ] + [
        reverse("console:inbox_shift_delete", args=[shift.pk]),
        reverse("console:inbox_canned_delete", args=[canned.pk]),
        reverse("console:inbox_retry", args=[hq_chat.pk, hq_chat.messages.get(status="failed").pk]),
    ]
    list_urls = [reverse(name) for name in INBOX_LIST_PAGES]
    for url in list_urls + object_urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("console:login")), url
        assert client_for(hq_admin).get(url).status_code == 200, url
    outsider = client_for(other_admin)
    for url in list_urls:
        body = outsider.get(url).content.decode()
        for secret in ("林大明", "機密罐頭", clerk.username, store.name):
            assert secret not in body, (url, secret)
    for url in object_urls + post_urls:
        method = outsider.post if url in post_urls else outsider.get
        assert method(url).status_code == 404, url
    for url in post_urls:
        assert client.post(url).status_code == 302, url  # anonymous: to sign-in
    assert Shift.objects.filter(pk=shift.pk).exists() and CannedReply.objects.filter(pk=canned.pk).exists()


def test_sidebar_has_inbox_roster_and_canned(console, client_for, hq_agent):
    links = {
        link["url"]
        for group in console.get(reverse("console:inbox")).context["nav"]
        for link in group["links"]
    }
    assert {
        reverse("console:inbox"),
        reverse("console:inbox_roster"),
        reverse("console:inbox_canned"),
    } <= links
    response = client_for(hq_agent).get(reverse("console:inbox_roster"))
    active = [link["url"] for group in response.context["nav"] for link in group["links"] if link["active"]]
    assert active == [reverse("console:inbox_roster")]


def test_inbox_pages_in_english(console, hq_chat):
    console.post(reverse("set_language"), {"language": "en", "next": reverse("console:inbox")})
    body = console.get(reverse("console:inbox")).content.decode()
    assert "Latest message" in body and "Canned replies" in body and "Roster" in body
    assert "最新訊息" not in body
    page = console.get(reverse("console:inbox_conversation", args=[hq_chat.pk])).content.decode()
    assert "Add internal note" in page and "Failed" in page and "Reason" in page


# --- live updates in a real browser -------------------------------------------------------------------------


@pytest.fixture
def asgi_url(transactional_db, settings):
    """The ASGI application under uvicorn in a thread: live_server speaks WSGI, without sockets."""
    from omo.testing.asgi import running_asgi

    with running_asgi() as url:
        yield url


def customer_writes(conversation: Conversation, text: str) -> None:
    """An inbound message as ingest records it, with its event published after commit.

    Written from a thread of its own, like a worker: Playwright's event loop runs in the test's thread.
    """
    import threading

    thread = threading.Thread(target=_record_inbound, args=(conversation, text))
    thread.start()
    thread.join(10)


def _record_inbound(conversation: Conversation, text: str) -> None:
    from django.db import connection, transaction

    from omo.core import events

    try:
        _write_inbound(conversation, text, transaction, events)
    finally:
        connection.close()


def _write_inbound(conversation: Conversation, text: str, transaction, events) -> None:
    with transaction.atomic():
        message = Message.objects.create(
            brand_id=conversation.brand_id,
            conversation=conversation,
            direction="in",
            kind="text",
            text=text,
            status="received",
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=timezone.now(), last_message_preview=text, unread_count=1
        )
        events.publish(
            "message.created",
            brand_id=conversation.brand_id,
            conversation_id=conversation.pk,
            message_id=message.pk,
            direction="in",
        )


@pytest.mark.browser
def test_list_and_conversation_update_live_and_canned_text_is_inserted(
    chromium, asgi_url, brand, hq_agent, make_conversation
):
    older = make_conversation(brand, "林大明")
    inbound(older, "第一則", minutes_ago=30)
    newer = make_conversation(brand, "陳小姐")
    inbound(newer, "第二則", minutes_ago=10)
    canned = CannedReply.objects.create(brand=brand, title="問候", body="{customer_name} 您好")
    context = chromium.new_context(
        base_url=asgi_url, viewport={"width": 1366, "height": 900}, locale="zh-TW", timezone_id="Asia/Taipei"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/console/login/")
        page.fill("input[name=username]", hq_agent.username)
        page.fill("input[name=password]", "pass-1234")
        page.click("form button[type=submit].btn-primary")
        page.wait_for_url("**/console/")
        page.goto("/console/inbox/")
        page.wait_for_selector("[data-live-state][data-state=live]")
        assert page.get_attribute("tr.inbox-row >> nth=0", "data-conversation-id") == str(newer.pk)

        customer_writes(older, "請問今天有營業嗎")  # the older conversation moves to the top
        page.wait_for_selector(f"tr.inbox-row:first-child[data-conversation-id='{older.pk}']")
        assert "請問今天有營業嗎" in page.text_content("tr.inbox-row >> nth=0")

        page.click(f"a[href='/console/inbox/{older.pk}/']")
        page.wait_for_selector("[data-live-state][data-state=live]")
        customer_writes(older, "我在門口了")
        page.wait_for_selector(".bubble.in:has-text('我在門口了')")

        page.select_option("select[name=canned]", value=str(canned.pk))
        assert page.input_value("textarea[name=text]") == "林大明 您好"
        page.click("#reply-form button[type=submit]")
        page.wait_for_selector(".bubble.out:has-text('林大明 您好')")
        assert Message.objects.filter(conversation=older, direction="out", text="林大明 您好").exists()
    finally:
        context.close()
