"""Every LINE webhook event type (fixtures/*.json, shaped like LINE's) through the edge and the task.

Each one is answered 200 and either has its effect or is recorded as ignored, never a 500.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omo.customers.models import CustomerIdentity
from omo.inbox.models import Contact, Conversation, Message, WebhookReceipt
from omo.platforms.tasks import process_pending
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "line" / "fixtures"
USER = "U4af49806292fa7c3e5b1d9a8c7f6e5d4"
USER2 = "U206d25c2ea6bd87c17655609a1c37cb8"
CONTENT = {
    "354718705033693859": (b"\xff\xd8\xff\xe0 fake jpeg", "image/jpeg"),
    "325708": (b"\x00\x00\x00\x18ftypmp42 fake video", "video/mp4"),
    "325709": (b"\x00\x00\x00\x18ftypM4A fake audio", "audio/x-m4a"),
    "325710": (b"%PDF-1.4 fake pdf", "application/pdf"),
}


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    raw = (FIXTURES / f"{name}.json").read_bytes()
    return raw, json.loads(raw)


def only_message() -> Message:
    return Message.objects.get()


def check_text(event: dict[str, Any]) -> None:
    message = only_message()
    assert (message.kind, message.direction, message.status) == ("text", "in", "received")
    assert message.text == event["message"]["text"]
    assert message.external_id == event["message"]["id"]
    assert message.payload["emojis"][0]["productId"] == "5ac1bfd5040ab15980c9b435"
    assert message.payload["quoteToken"] == event["message"]["quoteToken"]
    assert message.payload["line"]["webhookEventId"] == event["webhookEventId"]
    assert message.created_at.timestamp() * 1000 == event["timestamp"]
    contact = Contact.objects.get()
    assert (contact.external_user_id, contact.display_name) == (USER, "王小美")
    assert contact.customer.name == "王小美"
    assert CustomerIdentity.objects.get(kind="line", value=USER).customer_id == contact.customer_id
    conversation = Conversation.objects.get()
    assert conversation.reply_token == event["replyToken"]
    assert conversation.reply_token_at.timestamp() * 1000 == event["timestamp"]
    assert (conversation.unread_count, conversation.last_message_preview) == (1, event["message"]["text"])
    assert conversation.waiting_since == message.created_at


def check_media(kind: str) -> Any:
    def check(event: dict[str, Any]) -> None:
        message = only_message()
        assert message.kind == kind
        data, content_type = CONTENT[event["message"]["id"]]
        with message.attachment.open("rb") as stored:
            assert stored.read() == data
        assert message.payload["content_type"] == content_type
        if kind == "file":
            assert message.text == "訂購單.pdf"
            assert message.attachment.name.endswith(".pdf")

    return check


def check_external_image(event: dict[str, Any]) -> None:
    message = only_message()
    assert message.kind == "image"
    assert not message.attachment
    assert message.payload["contentProvider"]["originalContentUrl"] == "https://example.com/original.jpg"


def check_location(event: dict[str, Any]) -> None:
    message = only_message()
    assert (message.kind, message.text) == ("location", "森日 台北信義店")
    assert message.payload["latitude"] == event["message"]["latitude"]


def check_sticker(event: dict[str, Any]) -> None:
    message = only_message()
    assert message.kind == "sticker"
    assert (message.payload["packageId"], message.payload["stickerId"]) == ("1", "1")


def check_follow(user_id: str) -> Any:
    def check(event: dict[str, Any]) -> None:
        contact = Contact.objects.get(external_user_id=user_id)
        assert contact.is_follower and contact.blocked_at is None
        assert contact.followed_at.timestamp() * 1000 == event["timestamp"]
        assert contact.profile_fetched_at is not None
        conversation = Conversation.objects.get(contact=contact)
        assert conversation.reply_token == event["replyToken"]
        assert not Message.objects.exists()

    return check


def check_unfollow(event: dict[str, Any]) -> None:
    contact = Contact.objects.get(external_user_id=USER)
    assert not contact.is_follower
    assert contact.blocked_at.timestamp() * 1000 == event["timestamp"]
    assert not contact.reachable


def check_postback(event: dict[str, Any]) -> None:
    message = only_message()
    assert (message.kind, message.text) == ("postback", event["postback"]["data"])
    assert message.payload == {
        "data": event["postback"]["data"],
        "params": event["postback"].get("params", {}),
    }


def check_standby(event: dict[str, Any]) -> None:
    message = only_message()
    assert message.text == "standby 模式的訊息"
    assert message.payload["line"]["mode"] == "standby"
    assert Conversation.objects.get().reply_token == ""


def nothing_recorded(event: dict[str, Any]) -> None:
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


# fixture → (receipt status, note fragment, check)
CASES: dict[str, tuple[str, str, Any]] = {
    "message_text": ("processed", "", check_text),
    "message_image": ("processed", "", check_media("image")),
    "message_image_external": ("processed", "", check_external_image),
    "message_video": ("processed", "", check_media("video")),
    "message_audio": ("processed", "", check_media("audio")),
    "message_file": ("processed", "", check_media("file")),
    "message_location": ("processed", "", check_location),
    "message_sticker": ("processed", "", check_sticker),
    "message_text_standby": ("processed", "standby", check_standby),
    "unsend": ("processed", "never recorded", nothing_recorded),
    "follow": ("processed", "", check_follow(USER)),
    "follow_unblocked": ("processed", "", check_follow(USER2)),
    "unfollow": ("processed", "", check_unfollow),
    "postback": ("processed", "recorded", check_postback),
    "postback_datetime": ("processed", "recorded", check_postback),
    "postback_richmenu": ("processed", "recorded", check_postback),
    "join": ("ignored", "group chat", nothing_recorded),
    "leave": ("ignored", "group chat", nothing_recorded),
    "member_joined": ("ignored", "group chat", nothing_recorded),
    "member_left": ("ignored", "group chat", nothing_recorded),
    "message_text_group": ("ignored", "group chat", nothing_recorded),
    "message_text_room": ("ignored", "room chat", nothing_recorded),
    "message_edited": ("ignored", "group chat", nothing_recorded),
    "video_play_complete": ("ignored", "nothing to do", nothing_recorded),
    "beacon": ("ignored", "nothing to do", nothing_recorded),
    "account_link_ok": ("ignored", "nothing to do", nothing_recorded),
    "account_link_failed": ("ignored", "without a user", nothing_recorded),
    "membership": ("ignored", "nothing to do", nothing_recorded),
    "module": ("ignored", "without a user", nothing_recorded),
    "module_detached": ("ignored", "without a user", nothing_recorded),
    "activated": ("ignored", "nothing to do", nothing_recorded),
    "deactivated": ("ignored", "nothing to do", nothing_recorded),
    "bot_suspended": ("ignored", "without a user", nothing_recorded),
    "bot_resumed": ("ignored", "without a user", nothing_recorded),
    "delivery": ("ignored", "nothing to do", nothing_recorded),
    "unknown_future_type": ("ignored", "unknown LINE event type 'reaction'", nothing_recorded),
    "message_unknown_kind": (
        "ignored",
        "LINE 'message' event of a MessageContent type the LINE SDK does not know: 'sticon3d'",
        nothing_recorded,
    ),
}


def test_every_fixture_has_a_case():
    names = {path.stem for path in FIXTURES.glob("*.json")} - {"empty"}
    assert names == set(CASES)


def test_fixtures_cover_every_event_type_of_the_sdk():
    from linebot.v3.webhooks.models.event import Event

    mapping = Event._Event__discriminator_value_class_map  # type: ignore[attr-defined]
    seen = {
        event["type"] for path in FIXTURES.glob("*.json") for event in json.loads(path.read_text())["events"]
    }
    assert set(mapping) <= seen
    message_types = {
        event["message"]["type"]
        for path in FIXTURES.glob("*.json")
        for event in json.loads(path.read_text())["events"]
        if event["type"] == "message"
    }
    assert {"text", "image", "video", "audio", "file", "location", "sticker"} <= message_types


@pytest.fixture
def line_world(line_inbox, line_standin):
    line_standin.add_user(USER, "王小美", picture_url="https://profile.line-scdn.net/0hUSER")
    line_standin.add_user(USER2, "陳先生")
    for message_id, (data, content_type) in CONTENT.items():
        line_standin.add_content(message_id, data, content_type)
    return line_inbox


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_through_edge_and_task(name, line_world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    raw, document = load(name)
    status, body = post_line_webhook(line_world, body=raw)
    assert (status, body) == (200, {"received": len(document["events"])})

    counts = process_pending(line_world.pk)

    expected_status, note, check = CASES[name]
    receipt = WebhookReceipt.objects.get()
    assert (receipt.status, counts) == (expected_status, {expected_status: 1}), receipt.error
    assert note in receipt.error
    assert receipt.processed_at is not None
    check(document["events"][0])


def test_empty_events_fixture(line_world):
    raw, _ = load("empty")
    assert post_line_webhook(line_world, body=raw) == (200, {"received": 0})


def test_all_fixtures_in_one_webhook_then_again_as_redeliveries(line_world, line_standin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    events = [event for name in sorted(CASES) for event in load(name)[1]["events"]]
    body = json.dumps({"destination": "U1234567890abcdef1234567890abcdef", "events": events}).encode()
    assert post_line_webhook(line_world, body=body)[0] == 200
    process_pending(line_world.pk)
    messages = Message.objects.count()
    assert not WebhookReceipt.objects.filter(status__in=["pending", "failed"]).exists()

    for event in events:
        event["deliveryContext"] = {"isRedelivery": True}
    body = json.dumps({"destination": "U1234567890abcdef1234567890abcdef", "events": events}).encode()
    assert post_line_webhook(line_world, body=body)[0] == 200
    process_pending(line_world.pk)

    assert WebhookReceipt.objects.count() == len(events)
    assert Message.objects.count() == messages
