"""The cost meter: free replies vs billed pushes per clerk, store and month, with the NT$ estimate."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from omo.inbox import ingest
from omo.inbox.models import Message
from omo.platforms.line.cost import message_costs
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def sent(conversation, *, via, sender=None, at=None, status="sent"):
    return Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction="out",
        kind="text",
        text="hi",
        status=status,
        sent_via=via,
        sender=sender,
        sent_at=at or dt.datetime(2026, 5, 10, 12, tzinfo=TAIPEI),
    )


def test_replies_are_free_pushes_beyond_the_plan_are_billed(line_inbox, brand, store, other_store, clerk):
    other_clerk = f.make_user(brand, "clerk2", role="clerk", store=other_store, display_name="阿明")
    contact = ingest.get_or_create_contact(line_inbox, "U" + "1" * 32)
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    line_inbox.config = {"plan": {"included": 3, "extra_price": 20}}  # NT$0.20 per extra message
    line_inbox.save()
    for _ in range(4):
        sent(conversation, via="push", sender=clerk)
    sent(conversation, via="reply", sender=clerk)
    sent(conversation, via="push", sender=other_clerk)
    sent(conversation, via="push")  # an automation
    sent(conversation, via="push", sender=clerk, status="failed")  # not sent: not billed
    sent(conversation, via="push", sender=clerk, at=dt.datetime(2026, 4, 30, 23, 59, tzinfo=TAIPEI))  # April
    sent(conversation, via="push", sender=clerk, at=dt.datetime(2026, 6, 1, 0, 0, tzinfo=TAIPEI))  # June

    report = message_costs(line_inbox, dt.date(2026, 5, 17))

    assert (report.month, report.replies, report.pushes) == (dt.date(2026, 5, 1), 1, 6)
    assert (report.extra_messages, report.estimated, report.estimated_display) == (3, 60, "NT$1")
    assert [(r.label, r.replies, r.pushes, r.estimated) for r in report.by_clerk] == [
        ("clerk", 1, 4, 40),
        ("系統", 0, 1, 10),
        ("阿明", 0, 1, 10),
    ]
    assert [(r.label, r.pushes) for r in report.by_store] == [
        ("台北信義店", 4),
        ("總部", 1),
        ("高雄夢時代店", 1),
    ]
    assert report.free_share == pytest.approx(1 / 7)


def test_within_the_plan_costs_nothing(line_inbox, clerk):
    contact = ingest.get_or_create_contact(line_inbox, "U" + "2" * 32)
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    sent(conversation, via="push", sender=clerk)
    report = message_costs(line_inbox, dt.date(2026, 5, 1))
    assert (report.included, report.pushes, report.estimated) == (200, 1, 0)
    assert report.by_clerk[0].estimated == 0
