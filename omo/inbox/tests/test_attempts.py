"""What a platform's sender records on the inbox's rows while it sends a queued message."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from omo.inbox import attempts, ingest
from omo.inbox.models import Conversation, Inbox, Message

LIFE = dt.timedelta(minutes=1)


def queued(conversation: Conversation) -> Message:
    return Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction="out",
        kind="text",
        text="您好",
        status="queued",
    )


def test_a_fresh_reply_token_is_taken_once(make_conversation):
    conversation = make_conversation()
    Conversation.objects.filter(pk=conversation.pk).update(reply_token="tok", reply_token_at=timezone.now())

    assert attempts.take_reply_token(conversation.pk, life=LIFE) == "tok"
    assert attempts.take_reply_token(conversation.pk, life=LIFE) is None  # used
    conversation.refresh_from_db()
    assert (conversation.reply_token, conversation.reply_token_at) == ("", None)


def test_a_stale_or_missing_reply_token_is_not_taken(make_conversation):
    conversation = make_conversation()
    assert attempts.take_reply_token(conversation.pk, life=LIFE) is None
    old = timezone.now() - LIFE - dt.timedelta(seconds=1)
    Conversation.objects.filter(pk=conversation.pk).update(reply_token="tok", reply_token_at=old)

    assert attempts.take_reply_token(conversation.pk, life=LIFE) is None
    conversation.refresh_from_db()
    assert conversation.reply_token == "tok"  # left as it was


def test_attempts_and_the_way_a_message_goes_are_recorded(make_conversation):
    message = queued(make_conversation())
    other = queued(make_conversation("別人"))

    attempts.count_attempt(message.pk)
    attempts.count_attempt(message.pk)
    attempts.set_sent_via(message.pk, Message.SentVia.PUSH)

    assert attempts.attempts_of(message.pk) == 2
    assert attempts.attempts_of(other.pk) == 0
    assert attempts.attempts_of(0) == 0
    message.refresh_from_db()
    other.refresh_from_db()
    assert (message.sent_via, other.sent_via) == ("push", "")


def test_the_inbox_quota_is_marked_and_cleared(brand):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    at = timezone.now()

    attempts.set_quota_exhausted(inbox.pk, at)
    inbox.refresh_from_db()
    assert inbox.quota_exhausted_at == at

    attempts.set_quota_exhausted(inbox.pk, None)
    inbox.refresh_from_db()
    assert inbox.quota_exhausted_at is None


def test_content_tries_are_kept_in_the_payload(make_conversation):
    message = queued(make_conversation())
    Message.objects.filter(pk=message.pk).update(payload={"id": "m1"})
    message.refresh_from_db()

    ingest.record_content_tries(message, 3)

    message.refresh_from_db()
    assert message.payload == {"id": "m1", "content_tries": 3}
