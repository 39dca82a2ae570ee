"""Processing receipts: ordering by event time, idempotency, identity, handlers, media, failures."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tasks_db.models import DBTaskResult

from omo.core import events
from omo.customers.models import Customer, CustomerIdentity
from omo.inbox import ingest
from omo.inbox.models import Contact, Conversation, Message, WebhookReceipt
from omo.inbox.outbound import deliver, queue_message
from omo.platforms.tasks import fetch_message_content, process_pending
from omo.testing import factories as f
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db
wh = pytest.importorskip("omo.devtools.line_webhook_sender")


@pytest.fixture
def handlers():
    """Registers test handlers, then puts the registries back as they were (a test prefix such as
    "bind:" must not take the binding app's own handler with it)."""
    added: list[str] = []
    registries = (
        ingest._message_handlers,
        ingest._message_handler_filters,
        ingest._postback_handlers,
        ingest._follow_handlers,
    )
    saved = [dict(registry) for registry in registries]

    def message(name, handler):
        ingest.register_message_handler(handler, name=name)
        added.append(name)

    def postback(prefix, handler):
        ingest.register_postback_handler(prefix, handler)
        added.append(prefix)

    def follow(name, handler):
        ingest.register_follow_handler(handler, name=name)
        added.append(name)

    yield type(
        "Handlers",
        (),
        {
            "message": staticmethod(message),
            "postback": staticmethod(postback),
            "follow": staticmethod(follow),
        },
    )
    ingest.unregister_handlers(*added)
    for registry, before in zip(registries, saved, strict=True):
        registry.clear()
        registry.update(before)


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def test_out_of_order_follow_and_block_end_in_the_latest_state(line_inbox, line_user):
    uid, t = line_user.user_id, wh.now_ms() - 10_000
    follow, block = wh.follow_event(uid, timestamp=t), wh.unfollow_event(uid, timestamp=t + 1000)

    post_line_webhook(line_inbox, block, follow)  # delivered in the wrong order, one request
    process_pending(line_inbox.pk)
    contact = Contact.objects.get()
    assert (contact.is_follower, contact.blocked_at) == (False, at(t + 1000))

    # a follow older than the block, arriving even later, changes nothing
    post_line_webhook(line_inbox, wh.follow_event(uid, timestamp=t + 500))
    process_pending(line_inbox.pk)
    contact.refresh_from_db()
    assert (contact.is_follower, contact.blocked_at) == (False, at(t + 1000))
    assert "later unfollow" in WebhookReceipt.objects.order_by("-id").first().error

    # a newer follow (unblock) makes them reachable again
    post_line_webhook(line_inbox, wh.follow_event(uid, timestamp=t + 2000, unblocked=True))
    process_pending(line_inbox.pk)
    contact.refresh_from_db()
    assert (contact.is_follower, contact.blocked_at, contact.followed_at) == (True, None, at(t + 2000))


def test_late_messages_take_their_place_in_the_timeline(line_inbox, line_user):
    uid, t = line_user.user_id, wh.now_ms() - 10_000
    second = wh.text_event(uid, "第二句", timestamp=t + 1000)
    first = wh.text_event(uid, "第一句", timestamp=t)

    post_line_webhook(line_inbox, second)
    process_pending(line_inbox.pk)
    post_line_webhook(line_inbox, first)
    process_pending(line_inbox.pk)

    conversation = Conversation.objects.get()
    assert [m.text for m in conversation.messages.all()] == ["第一句", "第二句"]
    assert conversation.last_message_preview == "第二句"
    assert conversation.reply_token == second["replyToken"]  # the newest token is kept
    assert conversation.waiting_since == at(t)


def test_same_message_in_two_webhook_events_is_recorded_once(line_inbox, line_user):
    event = wh.text_event(line_user.user_id, "hi")
    copy = {**event, "webhookEventId": wh.ulid()}

    post_line_webhook(line_inbox, event, copy)
    process_pending(line_inbox.pk)

    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1
    assert set(WebhookReceipt.objects.values_list("status", flat=True)) == {"processed"}


def test_known_line_user_keeps_their_customer(line_inbox, line_user, brand):
    customer = f.make_customer(brand, name="既有顧客")
    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="line", value=line_user.user_id)

    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "我回來了"))
    process_pending(line_inbox.pk)

    assert Contact.objects.get().customer_id == customer.pk
    assert Customer.objects.count() == 1


def test_profile_is_fetched_on_follow_and_first_message_only(line_inbox, line_standin, line_user):
    post_line_webhook(
        line_inbox, wh.text_event(line_user.user_id, "一"), wh.text_event(line_user.user_id, "二")
    )
    process_pending(line_inbox.pk)
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "三"))
    process_pending(line_inbox.pk)

    profile_calls = line_standin.calls(f"/v2/bot/profile/{line_user.user_id}")
    assert len(profile_calls) == 1
    contact = Contact.objects.get()
    assert (contact.display_name, contact.picture_url) == ("林小姐", line_user.picture_url)

    post_line_webhook(line_inbox, wh.follow_event(line_user.user_id))
    process_pending(line_inbox.pk)
    assert len(line_standin.calls(f"/v2/bot/profile/{line_user.user_id}")) == 2


def test_unknown_profile_still_records_the_message(line_inbox):
    stranger = wh.user_id()  # not registered on the stand-in: profile 404

    post_line_webhook(line_inbox, wh.text_event(stranger, "hello"))
    process_pending(line_inbox.pk)

    contact = Contact.objects.get()
    assert (contact.display_name, contact.profile_fetched_at) == ("", None)
    assert Message.objects.get().text == "hello"


def test_message_handler_consumes_and_replies_for_free(
    line_inbox, line_standin, line_channel, line_user, handlers, django_capture_on_commit_callbacks
):
    seen = []

    def binding_code(ctx, message):
        if not message.text.startswith("#"):
            return False
        seen.append((ctx.can_reply, message.text))
        queue_message(ctx.conversation, kind="text", text=f"已為您綁定店員 {message.text[1:]}")
        return True

    handlers.message("test.binding_code", binding_code)
    tokens = [line_standin.issue_reply_token(line_channel.channel_id, line_user.user_id) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=False):
        post_line_webhook(
            line_inbox,
            wh.text_event(line_user.user_id, "#C123", token=tokens[0]),
            wh.text_event(line_user.user_id, "普通訊息", timestamp=wh.now_ms() + 1, token=tokens[1]),
        )
        process_pending(line_inbox.pk)

    assert seen == [(True, "#C123")]
    code, plain = Message.objects.filter(direction="in").order_by("created_at")
    assert code.payload["consumed"] is True and "consumed" not in plain.payload
    assert Conversation.objects.get().unread_count == 1  # only the plain message waits for a clerk

    answer = Message.objects.get(direction="out")
    deliver(answer.pk)
    answer.refresh_from_db()
    # the reply token of the later message was newer, so the answer used that one: still free
    assert (answer.status, answer.sent_via) == ("sent", "reply")
    assert [d.via for d in line_standin.delivered(line_user.user_id)] == ["reply"]


def test_failing_handler_does_not_lose_the_message(line_inbox, line_user, handlers):
    def broken(ctx, message):
        Customer.objects.filter(pk=ctx.contact.customer_id).update(name="should be rolled back")
        raise RuntimeError("boom")

    handlers.message("test.broken", broken)
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "hi"))
    process_pending(line_inbox.pk)

    assert Message.objects.get().text == "hi"
    assert Customer.objects.get().name == "林小姐"
    assert WebhookReceipt.objects.get().status == "processed"


def test_a_handler_whose_filter_says_no_is_skipped(line_inbox, line_user, handlers):
    calls = []
    ingest.register_message_handler(
        lambda ctx, message: calls.append(message.text) or True,
        name="test.filtered",
        matches=lambda ctx, message: message.text.startswith("!"),
    )
    handlers.message("test.filtered-cleanup", lambda ctx, message: False)  # restores the registries
    post_line_webhook(
        line_inbox,
        wh.text_event(line_user.user_id, "hello"),
        wh.text_event(line_user.user_id, "!stop", timestamp=wh.now_ms() + 1),
    )
    process_pending(line_inbox.pk)
    ingest.unregister_handlers("test.filtered")

    assert calls == ["!stop"]
    consumed = {m.text: m.payload.get("consumed", False) for m in Message.objects.filter(direction="in")}
    assert consumed == {"hello": False, "!stop": True}
    assert Conversation.objects.get().unread_count == 1


def test_a_bound_customers_message_reaches_the_socket_in_a_fixed_number_of_queries(
    line_inbox, line_user, clerk, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """The path from a stored receipt to the clerk's socket: every query in it is latency."""
    from omo.binding.services import bind_customer

    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "first"))
    process_pending(line_inbox.pk)  # contact, customer and conversation now exist
    bind_customer(Contact.objects.get().customer, clerk, source="manual")
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "second", timestamp=wh.now_ms() + 1))

    pushed = []
    events.subscribe("message.created", pushed.append)
    try:
        # Receipts, contact, claim, conversation (locked), message, one UPDATE of the conversation for
        # the last message and reply token, one for unread + waiting returning the row, the contact's
        # last inbound time, binding and shifts for routing, the receipt's status, then the push's one
        # read and the timeline event (PostgreSQL adds BEGIN, COMMIT and savepoints). The timeline is
        # a durable follow-up: its row is written with the message and deleted, in the delivery's own
        # transaction, with the event (4 queries: docs/adr-durable-followups.md); the push to the
        # socket runs before it.
        with django_assert_max_num_queries(29), django_capture_on_commit_callbacks(execute=True):
            process_pending(line_inbox.pk)
    finally:
        events._subscribers["message.created"].remove(pushed.append)
    conversation = Conversation.objects.get()
    assert [p["message_id"] for p in pushed] == [Message.objects.get(text="second").pk]
    assert (conversation.unread_count, conversation.last_message_preview) == (2, "second")


def test_postbacks_go_to_the_longest_matching_prefix(line_inbox, line_user, handlers):
    calls = []
    handlers.postback("bind:", lambda ctx, data, params: calls.append(("bind", data)))
    handlers.postback(
        "bind:confirm:", lambda ctx, data, params: calls.append(("confirm", data, ctx.can_reply))
    )

    post_line_webhook(
        line_inbox,
        wh.postback_event(line_user.user_id, "bind:confirm:tok123"),
        wh.postback_event(line_user.user_id, "bind:other", timestamp=wh.now_ms() + 5),
    )
    process_pending(line_inbox.pk)

    assert calls == [("confirm", "bind:confirm:tok123", True), ("bind", "bind:other")]
    assert not Message.objects.exists()  # claimed postbacks are not timeline messages


def test_follow_handlers_get_the_reply_token(line_inbox, line_user, handlers):
    calls = []
    handlers.follow(
        "test.welcome",
        lambda ctx, unblocked: calls.append((ctx.contact.external_user_id, unblocked, ctx.can_reply)),
    )
    post_line_webhook(line_inbox, wh.follow_event(line_user.user_id, unblocked=True))
    process_pending(line_inbox.pk)
    assert calls == [(line_user.user_id, True, True)]


def test_standby_events_run_no_handlers(line_inbox, line_user, handlers):
    calls = []
    handlers.message("test.spy", lambda ctx, message: calls.append(message.text))
    handlers.postback("x:", lambda ctx, data, params: calls.append(data))

    post_line_webhook(
        line_inbox,
        wh.text_event(line_user.user_id, "hi", mode="standby"),
        wh.postback_event(line_user.user_id, "x:1", mode="standby"),
    )
    process_pending(line_inbox.pk)

    assert calls == []
    assert Conversation.objects.get().reply_token == ""
    assert Message.objects.count() == 2


def test_unsend_and_edit_update_the_recorded_message(line_inbox, line_user, settings, tmp_path, line_standin):
    settings.MEDIA_ROOT = tmp_path
    image = wh.image_event(line_user.user_id)
    line_standin.add_content(image["message"]["id"], b"jpeg bytes", "image/jpeg")
    text = wh.text_event(line_user.user_id, "原本的字")
    post_line_webhook(line_inbox, image, text)
    process_pending(line_inbox.pk)
    stored = Message.objects.get(kind="image")
    assert stored.attachment

    post_line_webhook(line_inbox, wh.unsend_event(line_user.user_id, image["message"]["id"]))
    edited = {
        **wh.text_event(line_user.user_id, "改過的字", message_id=text["message"]["id"]),
        "type": "messageEdited",
    }
    post_line_webhook(line_inbox, edited)
    process_pending(line_inbox.pk)

    stored.refresh_from_db()
    assert (stored.text, bool(stored.attachment), "unsent_at" in stored.payload) == ("", False, True)
    assert Message.objects.get(kind="text").text == "改過的字"


def test_video_still_being_prepared_is_fetched_later(
    line_inbox, line_user, line_standin, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    video = wh.video_event(line_user.user_id)
    message_id = video["message"]["id"]
    line_standin.add_content(message_id, b"mp4 bytes", "video/mp4", transcoding="processing")

    post_line_webhook(line_inbox, video)
    with django_capture_on_commit_callbacks(execute=True):
        process_pending(line_inbox.pk)

    message = Message.objects.get()
    assert not message.attachment
    task = DBTaskResult.objects.get(task_path=fetch_message_content.module_path)
    assert task.args_kwargs["args"] == [message.pk]

    assert fetch_message_content.call(message.pk)["stored"] is False  # still processing: tries again later
    line_standin.add_content(message_id, b"mp4 bytes", "video/mp4", transcoding="succeeded")
    assert fetch_message_content.call(message.pk) == {"message_id": message.pk, "stored": True}
    message.refresh_from_db()
    with message.attachment.open("rb") as stored:
        assert stored.read() == b"mp4 bytes"


def test_a_failing_event_is_marked_failed_and_the_others_go_on(line_inbox, line_user, monkeypatch):
    from omo.platforms.line import inbound

    original = inbound.apply

    def apply(inbox, event, prepared):
        if event.event_type == "postback":
            raise RuntimeError("handler bug")
        return original(inbox, event, prepared)

    monkeypatch.setattr(inbound, "apply", apply)
    t = wh.now_ms()
    post_line_webhook(
        line_inbox,
        wh.postback_event(line_user.user_id, "x", timestamp=t),
        wh.text_event(line_user.user_id, "after", timestamp=t + 1),
    )
    counts = process_pending(line_inbox.pk)

    assert counts == {"failed": 1, "processed": 1}
    failed = WebhookReceipt.objects.get(status="failed")
    assert "handler bug" in failed.error
    assert Message.objects.get().text == "after"

    # After the fix, the failed receipt goes back to pending with a task to process it.
    from omo.platforms.tasks import process_receipts, requeue_failed

    monkeypatch.setattr(inbound, "apply", original)
    DBTaskResult.objects.all().delete()
    assert requeue_failed(line_inbox.pk) == 1
    assert DBTaskResult.objects.filter(task_path=process_receipts.module_path).count() == 1
    assert process_pending(line_inbox.pk) == {"processed": 1}
    assert requeue_failed(line_inbox.pk) == 0


def test_message_created_is_published_after_commit(line_inbox, line_user, django_capture_on_commit_callbacks):
    received = []
    events.subscribe("message.created", received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "hi"))
            process_pending(line_inbox.pk)
    finally:
        events._subscribers["message.created"].remove(received.append)
    message = Message.objects.get()
    assert received == [
        {
            "brand_id": line_inbox.brand_id,
            "conversation_id": message.conversation_id,
            "message_id": message.pk,
            "direction": "in",
        }
    ]


def test_enqueue_processing_coalesces_waiting_tasks(line_inbox):
    from omo.platforms.tasks import enqueue_processing, process_receipts

    enqueue_processing([line_inbox.pk])
    enqueue_processing([line_inbox.pk, line_inbox.pk])
    assert DBTaskResult.objects.filter(task_path=process_receipts.module_path).count() == 1

    DBTaskResult.objects.update(status="RUNNING")  # a worker took it: new receipts need a new task
    enqueue_processing([line_inbox.pk])
    assert DBTaskResult.objects.filter(task_path=process_receipts.module_path).count() == 2


def test_other_brands_inbox_gets_its_own_customer(line_inbox, line_user, other_brand, line_channel):
    from omo.inbox.models import Inbox

    other = Inbox.objects.create(
        brand=other_brand,
        platform="line",
        name="other",
        external_id="x",
        secrets=line_inbox.secrets,
        bot_user_id=line_inbox.bot_user_id,
    )
    for inbox in (line_inbox, other):
        post_line_webhook(inbox, wh.text_event(line_user.user_id, "hi"))
        process_pending(inbox.pk)

    assert Customer.objects.filter(brand=line_inbox.brand).count() == 1
    assert Customer.objects.filter(brand=other_brand).count() == 1
    assert {c.brand_id for c in Contact.objects.all()} == {line_inbox.brand_id, other_brand.pk}


def test_a_busy_inbox_hands_the_rest_to_a_new_task(line_inbox, line_user):
    from omo.platforms.tasks import process_receipts

    t = wh.now_ms()
    post_line_webhook(
        line_inbox, *[wh.text_event(line_user.user_id, str(i), timestamp=t + i) for i in range(3)]
    )
    DBTaskResult.objects.all().delete()

    counts = process_pending(line_inbox.pk, max_batches=0)

    assert counts == {}
    assert WebhookReceipt.objects.filter(status="pending").count() == 3
    assert DBTaskResult.objects.get(task_path=process_receipts.module_path).args_kwargs["args"] == [
        line_inbox.pk
    ]
