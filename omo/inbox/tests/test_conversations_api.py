"""The conversations API: reads scoped like the console and clerk app, sending through the outbound
path to the LINE stand-in, notes, assignment, close and reopen, refusals with named errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from omo.binding.models import Binding
from omo.core.models import AuditLog
from omo.customers.consent import record_consent
from omo.inbox import ingest
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.inbox.outbound import deliver
from omo.testing import factories as f

PREFIX = "/api/v1/conversations"
NOW = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def clerk_key(brand, clerk):
    return f.make_api_key(brand, role="clerk", staff=clerk)


@pytest.fixture
def clerk_api(clerk_key):
    return f.ApiClient(clerk_key)


@pytest.fixture
def manager_api(brand, store):
    return f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))


@pytest.fixture
def agent_api(brand):
    return f.ApiClient(f.make_api_key(brand, role="hq_agent"))


@pytest.fixture
def webchat(brand):
    return Inbox.objects.create(brand=brand, platform="webchat", name="官網客服")


def make_conversation(brand, inbox, name: str, *, phone: str = "", **fields) -> Conversation:
    customer = f.make_customer(brand, name=name, phone=phone)
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id=f"u{customer.pk}", customer=customer, display_name=name
    )
    return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer, **fields)


def bind(customer, clerk, store) -> None:
    Binding.objects.create(
        brand=customer.brand,
        customer=customer,
        clerk=clerk,
        store=store,
        source="manual",
        started_at=timezone.now() - dt.timedelta(days=3),
    )


@pytest.fixture
def line_conversation(line_inbox, line_user):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    return ingest.get_or_create_conversation(line_inbox, contact)


@pytest.fixture
def tee(brand):
    category = f.make_category(brand, "上衣", slug="tops")
    return f.make_product(
        brand, "有機棉T恤", category=category, variants=[("TEE-M", "M", 100000), ("TEE-L", "L", 120000)]
    )


def post_once(client, url: str, body: dict, key: str):
    """POST with an Idempotency-Key header."""
    return client.client.post(
        url, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **client._headers()
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["items"]]


# --- reading ------------------------------------------------------------------------------------


def test_list_filters_and_scope(
    api, clerk_api, manager_api, other_api, brand, store, other_store, clerk, webchat
):
    mine = make_conversation(brand, webchat, "林小姐", store=store)
    bind(mine.customer, clerk, store)
    assigned = make_conversation(brand, webchat, "王先生", assignee=clerk, queue="clerk", store=store)
    closed = make_conversation(brand, webchat, "陳太太", status="resolved", store=other_store)
    hq = make_conversation(brand, webchat, "張先生")

    assert sorted(ids(api.get(PREFIX))) == sorted([mine.pk, assigned.pk, closed.pk, hq.pk])
    assert sorted(ids(api.get(PREFIX, status="open"))) == sorted([mine.pk, assigned.pk, hq.pk])
    assert ids(api.get(PREFIX, status="closed")) == [closed.pk]
    assert ids(api.get(PREFIX, assignee=clerk.pk)) == [assigned.pk]
    assert ids(api.get(PREFIX, store=other_store.pk)) == [closed.pk]
    assert ids(api.get(PREFIX, customer=hq.customer_id)) == [hq.pk]
    assert sorted(ids(api.get(PREFIX, inbox=webchat.pk))) == sorted([mine.pk, assigned.pk, closed.pk, hq.pk])
    # a clerk's key: the clerk's bound customer and what is assigned to them, as in the clerk app
    assert sorted(ids(clerk_api.get(PREFIX))) == sorted([mine.pk, assigned.pk])
    # a store manager's key: the conversations its store owns
    assert sorted(ids(manager_api.get(PREFIX))) == sorted([mine.pk, assigned.pk])
    assert ids(other_api.get(PREFIX)) == []
    bad = api.get(PREFIX, status="pending")
    assert bad.status_code == 422


def test_updated_since_counts_any_timeline_entry(api, brand, webchat):
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        old = make_conversation(brand, webchat, "舊客")
        touched = make_conversation(brand, webchat, "新訊息")
    with time_machine.travel(NOW, tick=False):
        Message.objects.create(
            brand=brand, conversation=touched, direction="in", kind="text", text="在嗎", status="received"
        )
    since = (NOW - dt.timedelta(hours=1)).isoformat()
    assert ids(api.get(PREFIX, updated_since=since)) == [touched.pk]
    row = api.get(f"{PREFIX}/{touched.pk}").json()
    assert row["updated_at"].startswith("2026-11-20T")
    assert old.pk in ids(api.get(PREFIX))


def test_detail_is_404_outside_the_scope(api, clerk_api, other_api, brand, webchat):
    conversation = make_conversation(brand, webchat, "林小姐")
    body = api.get(f"{PREFIX}/{conversation.pk}").json()
    assert (body["status"], body["platform"], body["contact_name"]) == ("open", "webchat", "林小姐")
    for client in (clerk_api, other_api):
        response = client.get(f"{PREFIX}/{conversation.pk}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_messages_page_with_cursors(api, clerk_api, other_api, brand, webchat):
    conversation = make_conversation(brand, webchat, "林小姐")
    messages = [
        Message.objects.create(
            brand=brand,
            conversation=conversation,
            direction="in",
            kind="text",
            text=str(i),
            status="received",
        )
        for i in range(5)
    ]
    url = f"{PREFIX}/{conversation.pk}/messages"
    latest = api.get(url, limit=2).json()
    assert ([m["text"] for m in latest["items"]], latest["has_more"]) == (["3", "4"], True)
    older = api.get(url, limit=2, before=messages[3].pk).json()
    assert ([m["text"] for m in older["items"]], older["has_more"]) == (["1", "2"], True)
    newer = api.get(url, limit=2, after=messages[2].pk).json()
    assert ([m["text"] for m in newer["items"]], newer["has_more"]) == (["3", "4"], False)
    both = api.get(url, before=messages[3].pk, after=messages[0].pk)
    assert (both.status_code, both.json()["field"]) == (422, "after")
    assert clerk_api.get(url).status_code == 404
    assert other_api.get(url).status_code == 404


# --- sending --------------------------------------------------------------------------------------


def test_send_text_as_the_brand_reaches_line(api, line_conversation, line_standin, line_user):
    response = api.post(f"{PREFIX}/{line_conversation.pk}/messages", {"text": "您好，這是品牌客服"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["direction"], body["kind"], body["sender_id"]) == (
        "queued",
        "out",
        "text",
        None,
    )
    deliver(body["id"])
    [delivery] = line_standin.delivered(line_user.user_id)
    assert delivery.messages == [{"type": "text", "text": "您好，這是品牌客服"}]
    sent = api.get(f"{PREFIX}/{line_conversation.pk}/messages").json()["items"][-1]
    assert (sent["id"], sent["status"], sent["sent_via"]) == (body["id"], "sent", "push")


def test_send_card_of_a_product_and_a_variant_reaches_line(
    api, line_conversation, line_standin, line_user, tee, clerk, store
):
    bind(line_conversation.customer, clerk, store)
    large = tee.variants.get(sku="TEE-L")
    response = api.post(
        f"{PREFIX}/{line_conversation.pk}/messages",
        {"product_ids": [tee.pk], "variant_ids": [large.pk], "as_staff": clerk.pk},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["sender_id"]) == ("flex", clerk.pk)
    cards = body["payload"]["cards"]
    assert [(c["title"], c.get("subtitle"), c["price"]) for c in cards] == [
        ("有機棉T恤", None, 100000),
        ("有機棉T恤", "L", 120000),
    ]
    assert all("/r/" in c["url"] for c in cards)
    deliver(body["id"])
    [delivery] = line_standin.delivered(line_user.user_id)
    [flex] = delivery.messages
    assert flex["type"] == "flex"
    assert len(flex["contents"]["contents"]) == 2
    assert Message.objects.get(pk=body["id"]).status == "sent"


def test_idempotency_key_sends_once(api, line_conversation, line_standin, line_user):
    url = f"{PREFIX}/{line_conversation.pk}/messages"
    first = post_once(api, url, {"text": "訂單已出貨"}, "ship-1001")
    again = post_once(api, url, {"text": "訂單已出貨"}, "ship-1001")
    other = post_once(api, url, {"text": "訂單已出貨"}, "ship-1002")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert Message.objects.filter(conversation=line_conversation, direction="out").count() == 2
    deliver(first.json()["id"])
    deliver(first.json()["id"])
    assert len(line_standin.delivered(line_user.user_id)) == 1


def test_as_staff_rules(api, clerk_api, manager_api, brand, store, clerk, other_admin, webchat):
    conversation = make_conversation(brand, webchat, "林小姐", store=store)
    bind(conversation.customer, clerk, store)
    other_clerk = f.make_user(brand, "clerk2", role="clerk", store=store)
    url = f"{PREFIX}/{conversation.pk}/messages"

    own = clerk_api.post(url, {"text": "我是小美"})
    assert (own.status_code, own.json()["sender_id"]) == (201, clerk.pk)
    assert clerk_api.post(url, {"text": "我是小美", "as_staff": clerk.pk}).status_code == 201
    hq = api.post(url, {"text": "代店員回覆", "as_staff": clerk.pk})
    assert (hq.status_code, hq.json()["sender_id"]) == (201, clerk.pk)

    refused = clerk_api.post(url, {"text": "冒名", "as_staff": other_clerk.pk})
    assert (refused.status_code, refused.json()["field"]) == (403, "as_staff")
    refused = manager_api.post(url, {"text": "冒名", "as_staff": clerk.pk})
    assert (refused.status_code, refused.json()["field"]) == (403, "as_staff")
    foreign = api.post(url, {"text": "別家", "as_staff": other_admin.pk})
    assert (foreign.status_code, foreign.json()["field"]) == (404, "as_staff")
    not_theirs = api.post(url, {"text": "不是他的顧客", "as_staff": other_clerk.pk})
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (409, "not_their_conversation")
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "text"),
        ({"text": "   "}, 422, "text"),
        ({"text": "x", "product_ids": [1]}, 422, "text"),
        ({"text": "x", "alt_text": "卡片"}, 422, "alt_text"),
        ({"product_ids": [999999]}, 404, "product_ids"),
        ({"variant_ids": [999999]}, 404, "variant_ids"),
        ({"text": "x", "as_staff": 999999}, 404, "as_staff"),
    ],
)
def test_bad_bodies_get_named_errors(api, brand, webchat, body, status, field):
    conversation = make_conversation(brand, webchat, "林小姐")
    response = api.post(f"{PREFIX}/{conversation.pk}/messages", body)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert not Message.objects.filter(conversation=conversation).exists()


def test_malformed_and_oversized_bodies(api, brand, webchat, tee):
    conversation = make_conversation(brand, webchat, "林小姐")
    url = f"{PREFIX}/{conversation.pk}/messages"
    broken = api.post(url, raw="{not json")
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    too_many = api.post(url, {"product_ids": [tee.pk] * 11})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"][-1] == "product_ids"
    too_long = api.post(url, {"text": "字" * 5001})
    assert too_long.status_code == 422
    assert not Message.objects.filter(conversation=conversation).exists()


def test_another_brands_product_is_refused_and_nothing_is_sent(api, brand, other_brand, webchat):
    conversation = make_conversation(brand, webchat, "林小姐")
    theirs = f.make_product(other_brand, "別家T恤", variants=[("OTHER-1", "M", 50000)])
    response = api.post(f"{PREFIX}/{conversation.pk}/messages", {"product_ids": [theirs.pk]})
    assert (response.status_code, response.json()["field"]) == (404, "product_ids")
    assert not Message.objects.filter(conversation=conversation).exists()


def test_meta_platforms_keep_the_24_hour_window(api, brand):
    messenger = Inbox.objects.create(brand=brand, platform="messenger", name="FB 粉專")
    conversation = make_conversation(brand, messenger, "林小姐")
    url = f"{PREFIX}/{conversation.pk}/messages"
    with time_machine.travel(NOW, tick=False):
        never = api.post(url, {"text": "您好"})
        assert (never.status_code, never.json()["code"]) == (409, "outside_window")
        Contact.objects.filter(pk=conversation.contact_id).update(
            last_inbound_at=NOW - dt.timedelta(hours=25)
        )
        late = api.post(url, {"text": "您好"})
        assert (late.status_code, late.json()["code"]) == (409, "outside_window")
        Contact.objects.filter(pk=conversation.contact_id).update(
            last_inbound_at=NOW - dt.timedelta(hours=23)
        )
        assert api.post(url, {"text": "您好"}).status_code == 201
    assert Message.objects.filter(conversation=conversation).count() == 1


def test_a_purpose_is_checked_against_consent(api, brand, line_conversation):
    customer = line_conversation.customer
    record_consent(customer, platform="line", purpose="marketing", granted=False, source="chat.opt_out")
    url = f"{PREFIX}/{line_conversation.pk}/messages"
    refused = api.post(url, {"text": "週年慶開跑", "purpose": "marketing"})
    assert (refused.status_code, refused.json()["field"]) == (422, "purpose")
    assert api.post(url, {"text": "訂單已出貨", "purpose": "transactional"}).status_code == 201
    assert api.post(url, {"text": "x", "purpose": "spam"}).status_code == 422


# --- closing, reopening, notes, assignment -------------------------------------------------------------


def test_close_refuses_sending_and_reopen_allows_it(api, clerk_api, brand, store, clerk, webchat):
    conversation = make_conversation(brand, webchat, "林小姐", store=store)
    bind(conversation.customer, clerk, store)
    base = f"{PREFIX}/{conversation.pk}"

    assert clerk_api.post(f"{base}/close").status_code == 403
    closed = api.post(f"{base}/close")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    assert api.post(f"{base}/close").json()["status"] == "closed"  # again: nothing changes
    refused = api.post(f"{base}/messages", {"text": "還在嗎"})
    assert (refused.status_code, refused.json()["code"]) == (409, "conversation_closed")
    assert clerk_api.post(f"{base}/messages", {"text": "還在嗎"}).status_code == 409
    assert clerk_api.post(f"{base}/reopen").status_code == 403
    reopened = api.post(f"{base}/reopen")
    assert (reopened.status_code, reopened.json()["status"]) == (200, "open")
    assert api.post(f"{base}/messages", {"text": "還在嗎"}).status_code == 201
    events = list(
        Message.objects.filter(conversation=conversation, kind="event").values_list("payload", flat=True)
    )
    assert [e["event"] for e in events] == ["closed", "reopened"]
    assert list(
        AuditLog.objects.filter(brand=brand, target_id=str(conversation.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["inbox.conversation_closed", "inbox.conversation_reopened"]


def test_notes_stay_internal(
    api, clerk_api, other_api, brand, store, clerk, line_conversation, line_standin, line_user
):
    bind(line_conversation.customer, clerk, store)
    url = f"{PREFIX}/{line_conversation.pk}/notes"
    note = api.post(url, {"text": "顧客偏好黑色"})
    assert note.status_code == 201
    assert (note.json()["direction"], note.json()["kind"], note.json()["sender_id"]) == (
        "internal",
        "note",
        None,
    )
    by_clerk = clerk_api.post(url, {"text": "週末會來店"})
    assert (by_clerk.status_code, by_clerk.json()["sender_id"]) == (201, clerk.pk)
    assert api.post(url, {"text": ""}).status_code == 422
    assert other_api.post(url, {"text": "偷看"}).status_code == 404
    assert line_standin.delivered(line_user.user_id) == []


def test_assign_to_staff_and_back_to_hq(api, agent_api, brand, store, clerk, hq_agent, webchat):
    conversation = make_conversation(brand, webchat, "林小姐")
    url = f"{PREFIX}/{conversation.pk}/assign"

    to_clerk = api.post(url, {"staff_id": clerk.pk}).json()
    assert (to_clerk["queue"], to_clerk["assignee_id"], to_clerk["store_id"]) == ("clerk", clerk.pk, store.pk)
    to_agent = agent_api.post(url, {"staff_id": hq_agent.pk}).json()
    assert (to_agent["queue"], to_agent["assignee_id"]) == ("hq", hq_agent.pk)
    back = api.post(url, {"staff_id": None}).json()
    assert (back["queue"], back["assignee_id"], back["store_id"]) == ("hq", None, store.pk)
    assert AuditLog.objects.filter(brand=brand, action="inbox.conversation_assigned").count() == 3
    assert list(
        Message.objects.filter(conversation=conversation, kind="event").values_list(
            "payload__queue", flat=True
        )
    ) == ["clerk", "hq", "hq"]


def test_assign_refusals(
    api, clerk_api, manager_api, other_api, brand, store, other_store, clerk, other_admin, webchat
):
    conversation = make_conversation(brand, webchat, "林小姐", store=store)
    bind(conversation.customer, clerk, store)
    url = f"{PREFIX}/{conversation.pk}/assign"
    far_clerk = f.make_user(brand, "far", role="clerk", store=other_store)
    gone = f.make_user(brand, "gone", role="clerk", store=store, is_active=False)

    foreign = api.post(url, {"staff_id": other_admin.pk})
    assert (foreign.status_code, foreign.json()["field"]) == (404, "staff_id")
    inactive = api.post(url, {"staff_id": gone.pk})
    assert (inactive.status_code, inactive.json()["field"]) == (422, "staff_id")
    assert api.post(url, {}).status_code == 422
    refused = clerk_api.post(url, {"staff_id": clerk.pk})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    elsewhere = manager_api.post(url, {"staff_id": far_clerk.pk})
    assert (elsewhere.status_code, elsewhere.json()["field"]) == (403, "staff_id")
    assert other_api.post(url, {"staff_id": clerk.pk}).status_code == 404
    conversation.refresh_from_db()
    assert (conversation.queue, conversation.assignee_id) == ("hq", None)
    assert not AuditLog.objects.filter(action="inbox.conversation_assigned").exists()


ENDPOINTS = [
    ("get", "", None),
    ("get", "/messages", None),
    ("post", "/messages", {"text": "您好"}),
    ("post", "/notes", {"text": "備註"}),
    ("post", "/assign", {"staff_id": None}),
    ("post", "/close", None),
    ("post", "/reopen", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
def test_every_endpoint_refuses_another_brand_and_a_clerk_outside_their_customers(
    other_api, clerk_api, brand, webchat, method, suffix, body
):
    conversation = make_conversation(brand, webchat, "林小姐")
    url = f"{PREFIX}/{conversation.pk}{suffix}"
    for client in (other_api, clerk_api):
        response = client.get(url) if method == "get" else client.post(url, body)
        # a clerk's key is refused the managing routes by role (403) before anything else
        expected = 403 if client is clerk_api and suffix in ("/assign", "/close", "/reopen") else 404
        assert response.status_code == expected, (url, response.content)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.queue) == ("open", "hq")
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_second_request_racing_with_the_same_key_gets_the_first_message(api, brand, webchat, monkeypatch):
    from omo.inbox import sending

    conversation = make_conversation(brand, webchat, "林小姐")
    url = f"{PREFIX}/{conversation.pk}/messages"
    first = post_once(api, url, {"text": "訂單已出貨"}, "ship-2001")
    real = sending._earlier
    looks = []

    def racing(*args):
        looks.append(args)
        # the racing request's first look came before the first request had committed
        return None if len(looks) == 1 else real(*args)

    monkeypatch.setattr(sending, "_earlier", racing)

    again = post_once(api, url, {"text": "訂單已出貨"}, "ship-2001")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Message.objects.filter(conversation=conversation, direction="out").count() == 1
    assert len(looks) == 2  # looked again after the unique key refused the second row
