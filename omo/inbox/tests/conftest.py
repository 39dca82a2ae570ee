"""Inbox test helpers: a conversation without any platform traffic, and inbound messages at a given time."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from unittest import mock

import pytest

from omo.inbox import routing
from omo.inbox.models import Contact, Conversation, Inbox, Message

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


@contextlib.contextmanager
def during_opening_hours() -> Iterator[dt.datetime]:
    """Pin the wall clock to the latest 14:00 in Taipei (never in the future), when test stores are open.

    Binding and transfer route a customer's conversations "now"; without this, a test that expects
    the bound clerk to get the conversation would fail whenever the suite runs at night in Taipei.
    """
    real_now = dt.datetime.now(TAIPEI)
    at = dt.datetime.combine(real_now.date(), dt.time(14), tzinfo=TAIPEI)
    if at > real_now:
        at -= dt.timedelta(days=1)
    # Only Django's clock moves, not the process's: the in-memory channel layer stamps messages with
    # time.time() expiries, and a socket message sent "yesterday" would expire once the block ends.
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield at


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """March 2025 in Taipei: the 3rd is a Monday. Test stores open 11:00–21:30 every day."""
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=TAIPEI)


@pytest.fixture
def inbox(brand):
    return Inbox.objects.create(brand=brand, platform="webchat", name="web")


@pytest.fixture
def make_conversation(brand, inbox):
    from omo.testing import factories as f

    def make(name: str = "顧客", phone: str = "") -> Conversation:
        customer = f.make_customer(brand, name=name, phone=phone)
        contact = Contact.objects.create(
            brand=brand, inbox=inbox, external_user_id=f"u{customer.pk}", customer=customer, display_name=name
        )
        return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer)

    return make


def inbound(conversation: Conversation, at: dt.datetime, text: str = "在嗎？") -> Message:
    """A customer message at `at`, as ingest records it, then routing at `at`."""
    message = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction="in",
        kind="text",
        text=text,
        status="received",
    )
    Message.objects.filter(pk=message.pk).update(created_at=at)
    Conversation.objects.filter(pk=conversation.pk, waiting_since__isnull=True).update(waiting_since=at)
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=conversation.unread_count + 1)
    routing.on_inbound(conversation, message, now=at)
    conversation.refresh_from_db()
    return message


def where(conversation: Conversation) -> tuple[str, int | None, int | None]:
    conversation.refresh_from_db()
    return conversation.queue, conversation.assignee_id, conversation.store_id
