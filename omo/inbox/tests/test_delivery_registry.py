"""The inbox delivers through the sender registry the platform adapters fill (omo/inbox/delivery.py)."""

from __future__ import annotations

import pytest

from omo.inbox import delivery, outbound
from omo.inbox.delivery import DeliveryOutcome, DeliveryState
from omo.inbox.models import Message
from omo.platforms import get_adapter


class FakeSender:
    def __init__(self, outcome: DeliveryOutcome) -> None:
        self.outcome = outcome
        self.delivered: list[int] = []

    def deliver(self, message: Message) -> DeliveryOutcome:
        self.delivered.append(message.pk)
        return self.outcome


def test_the_platforms_app_registers_its_adapters_as_the_senders():
    assert delivery._sender_for is get_adapter


def test_deliver_records_what_the_inbox_sender_did(monkeypatch, make_conversation):
    conversation = make_conversation()
    sender = FakeSender(DeliveryOutcome(DeliveryState.SENT, via="push", external_id="m-42"))
    chosen = []

    def sender_for(inbox):
        chosen.append(inbox.pk)
        return sender

    monkeypatch.setattr(delivery, "_sender_for", sender_for)
    message = outbound.queue_message(conversation, kind="text", text="您好")

    result = outbound.deliver(message.pk)

    message.refresh_from_db()
    assert chosen == [conversation.inbox_id]
    assert sender.delivered == [message.pk]
    assert result["state"] == DeliveryState.SENT
    assert (message.status, message.external_id) == (Message.Status.SENT, "m-42")


def test_a_message_already_sent_is_not_handed_to_the_sender_again(monkeypatch, make_conversation):
    conversation = make_conversation()
    sender = FakeSender(DeliveryOutcome(DeliveryState.SENT, via="push", external_id="m-1"))
    monkeypatch.setattr(delivery, "_sender_for", lambda inbox: sender)
    message = outbound.queue_message(conversation, kind="text", text="您好")
    outbound.deliver(message.pk)

    again = outbound.deliver(message.pk)

    assert again["state"] == DeliveryState.SKIPPED
    assert sender.delivered == [message.pk]


def test_without_registered_senders_the_inbox_says_what_is_missing(monkeypatch, make_conversation):
    monkeypatch.setattr(delivery, "_sender_for", None)
    with pytest.raises(RuntimeError, match="no platform senders"):
        delivery.sender_for(make_conversation().inbox)
