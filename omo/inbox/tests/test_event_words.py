"""Timeline events are worded at display time in the reader's language, from the event's facts."""

from __future__ import annotations

from django.utils import translation

from omo.inbox import routing, services
from omo.inbox.event_words import EventNames, event_sentence
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.testing import factories as f


def conversation_of(brand) -> Conversation:
    inbox = Inbox.objects.create(brand=brand, platform="webchat", name="web")
    customer = f.make_customer(brand, name="林小姐", phone="")
    contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id="u1", customer=customer)
    return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer)


def events_of(conversation: Conversation) -> list[Message]:
    return list(Message.objects.filter(conversation=conversation, kind="event").order_by("id"))


def test_assignment_and_closing_in_each_language(brand, store, clerk, hq_agent):
    clerk.display_name = "王小美"
    clerk.save()
    conversation = conversation_of(brand)
    routing.assign(conversation, routing.Decision("clerk", clerk.pk, store.pk, "bound_clerk"))
    routing.assign(conversation, routing.Decision("store", None, store.pk, "clerk_off_shift"))
    routing.assign(conversation, routing.Decision("hq", None, None, "store_closed"), actor_user=hq_agent)
    services.set_conversation_status(conversation, "resolved", user=hq_agent)
    messages = events_of(conversation)
    names = EventNames(messages)
    with translation.override("zh-hant"):
        assert [event_sentence(m, names) for m in messages] == [
            "轉給 店員 王小美：綁定店員值班中",
            f"轉給 門市團隊（{store}）：綁定店員下班",
            "轉給 總部客服：門市非營業時間",
            f"已結案（{hq_agent}）",
        ]
    with translation.override("en"):
        assert [event_sentence(m, names) for m in messages] == [
            "To clerk 王小美: bound clerk on duty",
            f"To store team ({store}): bound clerk off duty",
            "To HQ agents: store closed",
            f"Closed ({hq_agent})",
        ]


def test_an_event_without_known_facts_keeps_its_stored_words(brand):
    conversation = conversation_of(brand)
    message = Message.objects.create(
        brand=brand, conversation=conversation, direction="internal", kind="event", text="舊事件", payload={}
    )
    assert event_sentence(message, EventNames([message])) == "舊事件"


def test_names_come_from_the_messages_brand_only(brand, other_brand, clerk):
    conversation = conversation_of(brand)
    stranger = f.make_user(other_brand, "stranger", role="clerk")
    message = Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction="internal",
        kind="event",
        payload={"event": "assigned", "queue": "clerk", "assignee_id": stranger.pk, "reason": "manual"},
    )
    with translation.override("zh-hant"):
        assert event_sentence(message, EventNames([message])) == "轉給 店員 —：手動指派"
