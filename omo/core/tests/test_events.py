"""Domain events: delivered after commit, one payload at a time, whether published one by one or many at once."""

from __future__ import annotations

import pytest
from django.db import transaction

from omo.core import events

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(monkeypatch):
    seen: list[tuple[str, dict]] = []

    def failing(payload):
        raise RuntimeError("a broken subscriber")

    monkeypatch.setitem(events._subscribers, "customer.created", [failing, lambda p: seen.append(("a", p))])
    return seen


def test_publish_many_delivers_each_payload_in_order_after_commit(
    received, django_capture_on_commit_callbacks
):
    payloads = [{"brand_id": 1, "customer_id": n} for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        events.publish_many("customer.created", iter(payloads))
        assert received == []  # nothing before the commit
    assert len(hooks) == 1  # one hook for the whole batch
    assert received == [("a", p) for p in payloads]  # the failing subscriber did not stop the other


def test_publish_many_delivers_nothing_when_the_transaction_rolls_back(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish_many("customer.created", [{"brand_id": 1, "customer_id": 1}])
        raise RuntimeError("rolled back")
    assert received == []


def test_publish_many_checks_every_payload_before_publishing(received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        with pytest.raises(ValueError, match="expects keys"):
            events.publish_many("customer.created", [{"brand_id": 1, "customer_id": 1}, {"brand_id": 1}])
        with pytest.raises(KeyError):
            events.publish_many("no.such.event", [{}])
        events.publish_many("customer.created", [])
    assert hooks == [] and received == []


def test_one_handler_cannot_be_two_durable_subscribers(monkeypatch):
    monkeypatch.setattr(events, "_durable_keys", {})
    monkeypatch.setattr(events, "_by_key", {})
    monkeypatch.setattr(events, "_wanted", {})
    monkeypatch.setattr(events, "_subscribers", events.defaultdict(list))

    def handler(payload):
        pass

    events.subscribe("customer.created", handler, durable="test.first")
    events.subscribe("customer.merged", handler, durable="test.first")  # the same name again: fine
    with pytest.raises(ValueError, match="test.second"):
        events.subscribe("customer.merged", handler, durable="test.second")
