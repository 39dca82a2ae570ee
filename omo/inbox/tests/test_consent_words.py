"""Opt-out and opt-in words in chat, through a signed LINE webhook: consent changes, the bot
answers with the free reply, marketing sends are refused, sentences and other inboxes' words are
ordinary messages."""

from __future__ import annotations

import pytest

from omo.customers import consent
from omo.customers.models import Consent
from omo.inbox import consent_words
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import OutboundError, deliver, queue_message
from omo.testing.line import customer_of, follow, say

pytestmark = pytest.mark.django_db
wh = pytest.importorskip("omo.devtools.line_webhook_sender")


def test_opt_out_words_through_the_signed_webhook(line_inbox, line_standin, line_user):
    follow(line_inbox, line_user)
    customer = customer_of(line_user)
    assert consent.may_message(customer, "line", "marketing") == (True, consent.reason("granted"))
    assert Consent.objects.get().source == "line.follow"

    say(line_inbox, line_standin, line_user, "  stop ")
    latest = Consent.objects.order_by("-recorded_at", "-id").first()
    assert (latest.platform, latest.purpose, latest.granted, latest.source) == (
        "line",
        "marketing",
        False,
        "chat.opt_out",
    )
    allowed, why = consent.may_message(customer, "line", "marketing")
    assert not allowed and "chat.opt_out" in why
    # the opt-out itself is in the conversation, answered by the bot, not waiting for a person
    inbound = Message.objects.get(direction="in")
    assert inbound.text == "  stop " and inbound.payload["consumed"] is True
    assert Conversation.objects.get().unread_count == 0
    answer = Message.objects.get(direction="out")
    assert answer.text == consent_words.OPT_OUT_REPLY
    deliver(answer.pk)
    answer.refresh_from_db()
    assert (answer.status, answer.sent_via) == ("sent", "reply")  # free
    assert [d.via for d in line_standin.delivered(line_user.user_id)] == ["reply"]

    # a marketing message is refused with the reason; a reply and an order notice still go
    conversation = Conversation.objects.get()
    with pytest.raises(OutboundError) as refused:
        queue_message(conversation, kind="text", text="週年慶全館八折", purpose="marketing")
    assert refused.value.field == "purpose" and "取消" in refused.value.message
    assert Message.objects.filter(direction="out").count() == 1
    queue_message(conversation, kind="text", text="您的訂單已出貨", purpose="transactional")
    queue_message(conversation, kind="text", text="好的，幫您查詢")

    # 「訂閱」 subscribes again; 「取消訂閱」 and 「退訂」 withdraw
    say(line_inbox, line_standin, line_user, "訂閱")
    assert consent.may_message(customer, "line", "marketing")[0] is True
    assert Message.objects.filter(direction="out", text=consent_words.OPT_IN_REPLY).count() == 1
    queue_message(conversation, kind="text", text="新品到貨", purpose="marketing")
    say(line_inbox, line_standin, line_user, "取消訂閱")
    assert consent.may_message(customer, "line", "marketing")[0] is False
    say(line_inbox, line_standin, line_user, "START")
    say(line_inbox, line_standin, line_user, "退訂")
    assert consent.may_message(customer, "line", "marketing")[0] is False
    assert list(
        Consent.objects.filter(customer=customer)
        .order_by("recorded_at", "id")
        .values_list("source", "granted")
    ) == [
        ("line.follow", True),
        ("chat.opt_out", False),
        ("chat.opt_in", True),
        ("chat.opt_out", False),
        ("chat.opt_in", True),
        ("chat.opt_out", False),
    ]


def test_words_inside_a_sentence_are_ordinary_messages(line_inbox, line_standin, line_user):
    follow(line_inbox, line_user)
    say(line_inbox, line_standin, line_user, "請問怎麼取消訂閱？")
    assert Consent.objects.count() == 1  # only the follow
    assert not Message.objects.filter(direction="out").exists()
    assert Conversation.objects.get().unread_count == 1  # waits for a person


def test_an_inbox_may_set_its_own_words(line_inbox, line_standin, line_user):
    line_inbox.config = {**line_inbox.config, "opt_out_words": ["不要再傳"], "opt_in_words": ["我要優惠"]}
    line_inbox.save()
    follow(line_inbox, line_user)
    say(line_inbox, line_standin, line_user, "STOP")  # not a word of this inbox
    assert consent.may_message(customer_of(line_user), "line", "marketing")[0] is True
    say(line_inbox, line_standin, line_user, "不要再傳")
    assert consent.may_message(customer_of(line_user), "line", "marketing")[0] is False
    say(line_inbox, line_standin, line_user, "我要優惠")
    assert consent.may_message(customer_of(line_user), "line", "marketing")[0] is True
