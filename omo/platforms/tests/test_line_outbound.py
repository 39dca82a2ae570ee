"""Sending against the LINE stand-in: reply vs push, retries that never duplicate, faults, quota, cards."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.inbox import ingest
from omo.inbox.models import Message
from omo.inbox.outbound import OutboundError, deliver, deliver_message, queue_message, retry_message

pytestmark = pytest.mark.django_db
CARDS = [
    {
        "title": f"有機棉T恤 {i}",
        "price": 129000 + i * 1000,
        "currency": "TWD",
        "image_url": f"https://shop.example.com/img/{i}.jpg",
        "url": f"https://shop.example.com/r/tok{i}",
    }
    for i in range(10)
]


@pytest.fixture
def conversation(line_inbox, line_user):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    return ingest.get_or_create_conversation(line_inbox, contact)


def queued(conversation, text="您好，這是店員小美", **kw) -> Message:
    return queue_message(conversation, kind=kw.pop("kind", "text"), text=text, **kw)


def give_reply_token(conversation, standin, channel, *, age: float = 1.0) -> str:
    token = standin.issue_reply_token(channel.channel_id, conversation.contact.external_user_id)
    ingest.store_reply_token(conversation, token, at=timezone.now() - dt.timedelta(seconds=age))
    return token


def test_push_with_the_stored_retry_key(conversation, line_standin, line_user, clerk):
    message = queued(conversation, sender=clerk)
    assert (message.status, message.attempts, message.sent_via) == ("queued", 0, "")
    assert isinstance(message.retry_key, uuid.UUID)  # stored before any attempt

    result = deliver(message.pk)

    message.refresh_from_db()
    assert result["state"] == "sent"
    assert (message.status, message.sent_via, message.attempts) == ("sent", "push", 1)
    [delivery] = line_standin.delivered(line_user.user_id)
    assert (delivery.via, delivery.retry_key) == ("push", str(message.retry_key))
    assert delivery.messages == [{"type": "text", "text": "您好，這是店員小美"}]
    assert message.external_id == delivery.message_ids[0]
    assert message.sent_at is not None


def test_fresh_reply_token_is_used_once_then_push(conversation, line_standin, line_channel, line_user):
    give_reply_token(conversation, line_standin, line_channel)
    first, second = queued(conversation, "一"), queued(conversation, "二")

    deliver(first.pk)
    deliver(second.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.sent_via, second.sent_via) == ("reply", "push")
    assert [d.via for d in line_standin.delivered(line_user.user_id)] == ["reply", "push"]
    conversation.refresh_from_db()
    assert (conversation.reply_token, conversation.reply_token_at) == ("", None)
    # a reply never carries a retry key (LINE answers 400 to one)
    assert [c["retry_key"] for c in line_standin.calls("/v2/bot/message/reply")] == [""]


def test_expired_reply_token_falls_back_to_push(conversation, line_standin, line_channel, line_user):
    give_reply_token(conversation, line_standin, line_channel)
    line_standin.expire_reply_tokens()  # LINE no longer takes it though we still thought it fresh
    message = queued(conversation)

    deliver(message.pk)

    message.refresh_from_db()
    assert (message.status, message.sent_via) == ("sent", "push")
    assert [c["status"] for c in line_standin.calls("/v2/bot/message/reply")] == [400]
    assert [d.via for d in line_standin.delivered(line_user.user_id)] == ["push"]


def test_old_reply_token_is_not_even_tried(conversation, line_standin, line_channel):
    give_reply_token(conversation, line_standin, line_channel, age=55)
    message = queued(conversation)

    deliver(message.pk)

    assert not line_standin.calls("/v2/bot/message/reply")
    message.refresh_from_db()
    assert message.sent_via == "push"


def test_500_then_success_sends_exactly_once(conversation, line_standin, line_user):
    line_standin.inject("status", status=500, count=1)
    message = queued(conversation)

    deliver(message.pk)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    pushes = line_standin.calls("/v2/bot/message/push")
    assert [p["status"] for p in pushes] == [500, 200]
    assert {p["retry_key"] for p in pushes} == {str(message.retry_key)}
    assert len(line_standin.delivered(line_user.user_id)) == 1


def test_time_out_then_409_means_it_was_sent_once(conversation, line_standin, line_user, settings):
    settings.OMO_LINE_HTTP_TIMEOUT = (1.0, 0.3)
    line_standin.inject("latency", latency=0.6, count=1)  # LINE takes it, our client gives up waiting
    message = queued(conversation)

    deliver(message.pk)

    message.refresh_from_db()
    [delivery] = line_standin.delivered(line_user.user_id)
    assert (message.status, message.sent_via) == ("sent", "push")
    assert message.external_id == delivery.message_ids[0]  # from the 409's sentMessages
    deadline = time.monotonic() + 2
    while len(line_standin.calls("/v2/bot/message/push")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the late answer to the first attempt is logged when it finally leaves
    statuses = sorted(p["status"] for p in line_standin.calls("/v2/bot/message/push"))
    assert statuses == [200, 409]
    assert len(line_standin.delivered(line_user.user_id)) == 1


def test_5xx_beyond_the_attempts_is_rescheduled_with_the_same_key(
    conversation, line_standin, line_user, django_capture_on_commit_callbacks
):
    line_standin.inject("status", status=503, count=3)
    message = queued(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        result = deliver(message.pk)

    assert (result["state"], result["status"]) == ("retry_later", "queued")
    later = DBTaskResult.objects.get(task_path=deliver_message.module_path)
    assert later.args_kwargs["args"] == [message.pk]
    assert later.run_after > timezone.now()

    deliver(message.pk)  # the worker, later
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 4)
    assert len(line_standin.delivered(line_user.user_id)) == 1
    assert {p["retry_key"] for p in line_standin.calls("/v2/bot/message/push")} == {str(message.retry_key)}


def test_429_backs_off_and_later_succeeds(
    conversation, line_standin, line_user, django_capture_on_commit_callbacks
):
    line_standin.inject("rate", count=1)
    message = queued(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        result = deliver(message.pk)

    assert result["state"] == "retry_later"
    message.refresh_from_db()
    assert (message.status, message.failure_reason) == ("queued", "")
    later = DBTaskResult.objects.get(task_path=deliver_message.module_path)
    assert later.run_after >= timezone.now() + dt.timedelta(seconds=1)
    assert not line_standin.delivered(line_user.user_id)
    assert [p["status"] for p in line_standin.calls("/v2/bot/message/push")] == [429]  # not hammered

    deliver_message.call(message.pk)
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(line_standin.delivered(line_user.user_id)) == 1


def test_400_is_not_retried_and_the_reason_is_kept(conversation, line_standin, line_user):
    too_many = {
        "type": "flex",
        "altText": "13 件商品",
        "contents": {
            "type": "carousel",
            "contents": [
                {
                    "type": "bubble",
                    "body": {
                        "type": "box",
                        "layout": "vertical",
                        "contents": [{"type": "text", "text": str(i)}],
                    },
                }
                for i in range(13)
            ],
        },
    }
    message = queue_message(conversation, kind="flex", payload={"line": too_many})

    result = deliver(message.pk)

    message.refresh_from_db()
    assert result["state"] == "failed"
    assert message.status == "failed"
    assert (
        "LINE 拒絕了這則訊息" in message.failure_reason
        and "LINE rejected this message" in message.failure_reason
    )
    assert "Size must be between 1 and 12" in message.failure_reason
    assert [p["status"] for p in line_standin.calls("/v2/bot/message/push")] == [400]
    assert not line_standin.delivered(line_user.user_id)


def test_monthly_quota_exhausted_is_shown_as_such(conversation, line_standin, line_channel, line_inbox):
    line_channel.quota_limit = 0
    message = queued(conversation)

    deliver(message.pk)

    message.refresh_from_db()
    line_inbox.refresh_from_db()
    assert message.status == "failed"
    assert message.failure_reason.startswith("本月訊息額度已用完")
    assert "Monthly message quota reached" in message.failure_reason
    assert line_inbox.quota_exhausted_at is not None
    assert [p["status"] for p in line_standin.calls("/v2/bot/message/push")] == [429]

    # replies are free: they still go out, and a later successful push clears the flag
    line_channel.quota_limit = None
    deliver(queued(conversation, "下個月").pk)
    line_inbox.refresh_from_db()
    assert line_inbox.quota_exhausted_at is None


def test_blocked_customer_is_not_sent_to(conversation, line_standin):
    ingest.mark_unfollowed(conversation.contact, at=timezone.now())
    message = queued(conversation)

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "failed"
    assert "封鎖" in message.failure_reason
    assert not line_standin.calls("/v2/bot/message/push")


def test_never_sends_twice(conversation, line_standin, line_user):
    message = queued(conversation)
    deliver(message.pk)

    assert deliver(message.pk)["state"] == "skipped"

    # another worker holding the message's lease: this one stays away
    other = queued(conversation, "二")
    cache.add(f"omo:deliver:{other.pk}", "someone-else", 60)
    assert deliver(other.pk)["state"] == "skipped"
    cache.delete(f"omo:deliver:{other.pk}")
    assert len(line_standin.delivered(line_user.user_id)) == 1


def test_an_interrupted_reply_is_not_resent(conversation, line_standin):
    message = queued(conversation)
    Message.objects.filter(pk=message.pk).update(sent_via="reply")  # a worker died mid-reply

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "failed"
    assert "avoid a duplicate" in message.failure_reason
    assert not line_standin.calls()


def test_retry_of_a_failed_message_reuses_its_key(conversation, line_standin, line_user):
    line_standin.inject("status", status=400, count=1, message="Injected bad request")
    message = queued(conversation)
    deliver(message.pk)
    message.refresh_from_db()
    assert message.status == "failed"

    retry_message(message)
    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent"
    assert {p["retry_key"] for p in line_standin.calls("/v2/bot/message/push")} == {str(message.retry_key)}


def test_product_cards_pass_the_sdk_models_and_the_stand_in(conversation, line_standin, line_user, clerk):
    message = queue_message(
        conversation, kind="flex", payload={"cards": CARDS, "alt_text": "店員推薦 10 件商品"}, sender=clerk
    )

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent", message.failure_reason
    [delivery] = line_standin.delivered(line_user.user_id)
    [flex] = delivery.messages
    assert (flex["type"], flex["altText"]) == ("flex", "店員推薦 10 件商品")
    bubbles = flex["contents"]["contents"]
    assert len(bubbles) == 10
    assert bubbles[0]["hero"]["url"] == "https://shop.example.com/img/0.jpg"
    assert bubbles[0]["body"]["contents"][1]["text"] == "NT$1,290"
    assert bubbles[0]["footer"]["contents"][0]["action"] == {
        "type": "uri",
        "label": "查看商品",
        "uri": "https://shop.example.com/r/tok0",
    }


def test_quick_reply_postback_for_a_confirmation(conversation, line_standin, line_user):
    message = queue_message(
        conversation,
        kind="text",
        text="要綁定店員小美嗎？",
        payload={
            "quick_replies": [
                {"label": "確認", "data": "bind:confirm:abc", "display_text": "確認"},
                {"label": "不用了", "text": "不用了"},
            ]
        },
    )

    deliver(message.pk)

    [delivery] = line_standin.delivered(line_user.user_id)
    items = delivery.messages[0]["quickReply"]["items"]
    assert items[0]["action"] == {
        "type": "postback",
        "label": "確認",
        "data": "bind:confirm:abc",
        "displayText": "確認",
    }
    assert items[1]["action"] == {"type": "message", "label": "不用了", "text": "不用了"}


@pytest.mark.parametrize(
    ("kind", "text", "payload", "field"),
    [
        ("note", "x", None, "kind"),
        ("text", "  ", None, "text"),
        ("text", "字" * 5001, None, "text"),
        ("flex", "", {}, "payload"),
    ],
)
def test_queue_message_refuses_what_cannot_be_sent(conversation, kind, text, payload, field):
    with pytest.raises(OutboundError) as error:
        queue_message(conversation, kind=kind, text=text, payload=payload)
    assert error.value.field == field
    assert not Message.objects.exists()


def test_queue_message_enqueues_delivery_after_commit(
    conversation, clerk, django_capture_on_commit_callbacks
):
    conversation.waiting_since = timezone.now()
    conversation.save()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = queued(conversation, sender=clerk)
    assert len(callbacks) == 2  # message.created and the delivery task
    task = DBTaskResult.objects.get(task_path=deliver_message.module_path)
    assert task.args_kwargs["args"] == [message.pk]
    conversation.refresh_from_db()
    assert conversation.waiting_since is None
    assert conversation.last_message_preview == "您好，這是店員小美"


def test_rate_limiter_defers_instead_of_blocking(conversation, line_standin, monkeypatch):
    from omo.platforms.base import RateLimit
    from omo.platforms.line.adapter import LINE_LIMITS

    monkeypatch.setitem(LINE_LIMITS.rate_limits, "push", RateLimit(1, per_seconds=10))
    first, second = queued(conversation, "一"), queued(conversation, "二")

    assert deliver(first.pk)["state"] == "sent"
    assert deliver(second.pk)["state"] == "retry_later"
    assert len(line_standin.calls("/v2/bot/message/push")) == 1


def test_multicast_in_chunks_with_stable_retry_keys(line_inbox, line_standin):
    import dataclasses

    from omo.platforms.base import SendStatus
    from omo.platforms.line.adapter import LineAdapter
    from omo.platforms.line.sending import multicast

    users = [line_standin.add_user().user_id for _ in range(5)]
    key = str(uuid.uuid4())
    adapter = LineAdapter.for_inbox(line_inbox)
    adapter.limits = dataclasses.replace(adapter.limits, max_recipients_per_multicast=2)  # 3 chunks of ≤2
    line_standin.inject("status", status=500, count=1, paths=["/v2/bot/message/multicast"])
    messages = [{"type": "text", "text": "新品到貨"}]

    first = multicast(adapter, line_inbox.pk, users, messages, retry_key=key)
    again = multicast(adapter, line_inbox.pk, users, messages, retry_key=key)  # a retried campaign task

    assert [r.status for r in first] == [SendStatus.SENT] * 3
    assert [r.status for r in again] == [SendStatus.ALREADY_ACCEPTED] * 3
    assert sorted(d.to for d in line_standin.delivered(via="multicast")) == sorted(users)
