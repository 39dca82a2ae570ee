"""LINE event rules: a follow and an unfollow of the same moment, edits scoped to their inbox, and
events the SDK's model refuses recorded with what is actually wrong."""

from __future__ import annotations

import pytest

from omo.customers.consent import current_consent
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Contact, Inbox, Message, WebhookReceipt
from omo.platforms.tasks import process_pending
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db

T = 1_767_225_600_000  # one millisecond on LINE's clock


def _line_state(contact: Contact) -> tuple[bool, bool]:
    contact.refresh_from_db()
    marketing = current_consent(contact.customer)["line"]["purposes"]["marketing"]
    return contact.is_follower, bool(marketing["granted"])


@pytest.mark.parametrize("order", ["follow first", "unfollow first"])
@pytest.mark.parametrize("together", [True, False], ids=["one webhook", "two webhooks"])
def test_a_follow_and_an_unfollow_of_the_same_moment_leave_the_contact_blocked(
    line_inbox, line_user, order, together
):
    follow = wh.follow_event(line_user.user_id, timestamp=T)
    unfollow = wh.unfollow_event(line_user.user_id, timestamp=T)
    events = [follow, unfollow] if order == "follow first" else [unfollow, follow]
    if together:
        post_line_webhook(line_inbox, *events)
    else:
        for event in events:
            post_line_webhook(line_inbox, event)
    process_pending(line_inbox.pk)

    contact = Contact.objects.get(inbox=line_inbox)
    assert _line_state(contact) == (False, False)  # not a follower, marketing consent withdrawn

    # a later follow turns it back, a redelivery of the old ones changes nothing
    post_line_webhook(line_inbox, wh.follow_event(line_user.user_id, timestamp=T + 1))
    post_line_webhook(line_inbox, {**unfollow, "deliveryContext": {"isRedelivery": True}})
    process_pending(line_inbox.pk)
    assert _line_state(contact) == (True, True)


def test_an_edit_posted_to_another_inbox_does_not_touch_the_message(
    line_inbox, line_user, line_standin, brand
):
    channel = line_standin.add_channel()
    other = Inbox.objects.create(
        brand=brand,
        platform="line",
        name="第二個帳號",
        external_id=channel.channel_id,
        bot_user_id=channel.bot_user_id,
        secrets={"channel_secret": channel.channel_secret, "access_token": channel.access_token},
    )
    sent = wh.text_event(line_user.user_id, "原本", timestamp=T)
    post_line_webhook(line_inbox, sent)
    process_pending(line_inbox.pk)
    message_id = sent["message"]["id"]
    edit = wh._event(
        "messageEdited",
        wh.user_source(line_user.user_id),
        timestamp=T + 5,
        token=None,
        message={"id": message_id, "type": "text", "text": "被改了", "quoteToken": "q"},
    )

    post_line_webhook(other, edit)
    process_pending(other.pk)

    assert Message.objects.get(external_id=message_id).text == "原本"
    assert Message.objects.count() == 1

    post_line_webhook(line_inbox, edit)  # the inbox that received it: edited
    process_pending(line_inbox.pk)
    assert Message.objects.get(external_id=message_id).text == "被改了"


@pytest.mark.parametrize(
    ("message", "note"),
    [
        (
            {"id": "1", "type": "text", "text": 123, "quoteToken": "q"},
            "LINE 'message' event does not match the LINE SDK's TextMessageContent: text: str type expected",
        ),
        (
            {"id": "1", "type": "hologram"},
            "LINE 'message' event of a MessageContent type the LINE SDK does not know: 'hologram'",
        ),
    ],
)
def test_an_event_the_sdk_refuses_is_recorded_with_what_is_wrong(line_inbox, line_user, message, note):
    event = wh._event("message", wh.user_source(line_user.user_id), timestamp=T, message=message)
    post_line_webhook(line_inbox, event)
    process_pending(line_inbox.pk)

    receipt = WebhookReceipt.objects.get()
    assert (receipt.status, receipt.error) == ("ignored", note)
    assert not Message.objects.exists()


def test_an_unknown_event_type_still_says_so(line_inbox, line_user):
    post_line_webhook(line_inbox, wh._event("reaction", wh.user_source(line_user.user_id), timestamp=T))
    process_pending(line_inbox.pk)
    assert WebhookReceipt.objects.get().error == "unknown LINE event type 'reaction'"
