"""Routing: bound clerk → store team → HQ by roster, SLA (in opening hours) and store hours; and back."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.binding import services as binding_services
from omo.inbox import routing
from omo.inbox.models import InboxSettings, Message
from omo.inbox.outbound import queue_message
from omo.inbox.tests.conftest import during_opening_hours, inbound, taipei, where
from omo.staff.models import Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound(make_conversation, clerk):
    conversation = make_conversation()
    with during_opening_hours():
        binding_services.bind_customer(conversation.customer, clerk, source="manual", at=taipei(1, 12))
    return conversation


def shift(clerk, start: dt.datetime, end: dt.datetime) -> Shift:
    return Shift.objects.create(
        brand_id=clerk.brand_id, staff=clerk, store=clerk.store, starts_at=start, ends_at=end
    )


def test_unbound_customers_go_to_hq(make_conversation):
    conversation = make_conversation()
    inbound(conversation, taipei(3, 14))
    assert where(conversation) == ("hq", None, None)
    assert conversation.unread_count == 1 and conversation.waiting_since == taipei(3, 14)
    assert conversation.sla_due_at == taipei(3, 14, 10)


def test_bound_clerk_without_roster_is_on_duty_in_opening_hours(bound, clerk, store):
    inbound(bound, taipei(3, 14))
    assert where(bound) == ("clerk", clerk.pk, store.pk)
    event = Message.objects.filter(kind="event").last()
    assert event.direction == "internal" and event.payload["reason"] == "bound_clerk"
    assert "clerk" in event.text


def test_clerk_off_shift_goes_to_the_store_team_then_hq_when_closed(bound, clerk, store):
    shift(clerk, taipei(3, 11), taipei(3, 15))
    inbound(bound, taipei(3, 16))
    assert where(bound) == ("store", None, store.pk)
    assert Message.objects.filter(kind="event").last().payload["reason"] == "clerk_off_shift"
    routing.escalate_and_return(now=taipei(3, 22))
    assert where(bound) == ("hq", None, store.pk)  # the store keeps ownership, HQ covers the night


def test_returns_to_the_clerk_on_their_next_shift(bound, clerk, store):
    shift(clerk, taipei(4, 11), taipei(4, 20))
    inbound(bound, taipei(3, 23))
    assert where(bound) == ("hq", None, store.pk)
    # answered by HQ overnight
    queue_message(bound, kind="text", text="明天店員會回覆您", sender=None)
    routing.escalate_and_return(now=taipei(4, 10, 59))
    assert where(bound)[0] == "hq"
    routing.escalate_and_return(now=taipei(4, 11, 0))
    assert where(bound) == ("clerk", clerk.pk, store.pk)
    reasons = list(Message.objects.filter(kind="event").values_list("payload__reason", flat=True))
    assert reasons[-2:] == ["store_closed", "bound_clerk"]


def test_sla_escalates_to_the_store_and_an_answer_brings_it_back(bound, clerk, store, brand, manager):
    InboxSettings.objects.create(brand=brand, sla_minutes=10)
    inbound(bound, taipei(3, 14))
    assert where(bound)[0] == "clerk"
    routing.escalate_and_return(now=taipei(3, 14, 9))
    assert where(bound)[0] == "clerk"
    routing.escalate_and_return(now=taipei(3, 14, 10))
    assert where(bound) == ("store", None, store.pk)
    assert Message.objects.filter(kind="event").last().payload["reason"] == "sla_breached"
    # a second customer message keeps it with the store team: the clock keeps running
    inbound(bound, taipei(3, 14, 12))
    assert where(bound)[0] == "store"
    # the store manager answers: no longer waiting, the clerk takes it back on the next tick
    queue_message(bound, kind="text", text="您好，我是店長", sender=manager)
    bound.refresh_from_db()
    assert bound.waiting_since is None and bound.sla_due_at is None
    routing.escalate_and_return(now=taipei(3, 14, 15))
    assert where(bound) == ("clerk", clerk.pk, store.pk)


def test_sla_counts_only_opening_hours(bound):
    inbound(bound, taipei(3, 21, 25))  # 5 minutes before closing
    assert bound.sla_due_at == taipei(4, 11, 5)


def test_opening_hours_helpers(store):
    assert routing.store_is_open(store, taipei(3, 11))
    assert not routing.store_is_open(store, taipei(3, 21, 30))
    store.opening_hours = {"fri": [["18:00", "02:00"]], "sat": [["10:00", "24:00"]], "sun": [["bad"]]}
    store.save()
    assert routing.store_is_open(store, taipei(8, 1, 30))  # Friday night runs into Saturday
    assert routing.store_is_open(store, taipei(8, 23, 59))
    assert not routing.store_is_open(store, taipei(9, 12))  # malformed Sunday: closed, no error
    assert routing.add_open_minutes(store, taipei(8, 1, 55), 10) == taipei(8, 10, 5)
    store.opening_hours = {}
    store.save()
    assert not routing.store_is_open(store, taipei(3, 12))
    assert routing.add_open_minutes(store, taipei(3, 12), 10) == taipei(3, 12, 10)


def test_departed_clerk_sends_customers_to_the_store(bound, clerk, store):
    clerk.is_active = False
    clerk.save()
    inbound(bound, taipei(3, 14))
    assert where(bound) == ("store", None, store.pk)
    assert Message.objects.filter(kind="event").last().payload["reason"] == "clerk_departed"


def test_every_assignment_change_is_in_the_timeline_once(bound):
    inbound(bound, taipei(3, 14))
    inbound(bound, taipei(3, 14, 1))
    routing.escalate_and_return(now=taipei(3, 14, 2))
    assert Message.objects.filter(kind="event").count() == 1


def test_tick_is_scheduled_every_minute():
    from omo.core import schedule

    job = next(j for j in schedule.registered() if j.name == "inbox.escalate_and_return")
    assert job.task_path == "omo.inbox.tasks.escalate_and_return" and job.interval == dt.timedelta(minutes=1)
