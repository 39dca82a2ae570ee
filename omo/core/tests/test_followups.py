"""Durable subscribers: the follow-up row is written with the event, delivered once after commit,
retried by the worker when the delivery did not happen, and never delivered twice."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.db import transaction
from django.utils import timezone

from omo.core import events, worker
from omo.core.models import FollowUp, PeriodicRun
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(hours=2)  # past any backoff a test leaves behind


@pytest.fixture
def registry(monkeypatch):
    """An empty subscriber registry, so only the test's subscribers run."""
    monkeypatch.setattr(events, "_subscribers", defaultdict(list))
    monkeypatch.setattr(events, "_durable_keys", {})
    monkeypatch.setattr(events, "_by_key", {})
    monkeypatch.setattr(events, "_wanted", {})
    monkeypatch.setattr(events, "_in_transaction", defaultdict(list))


@pytest.fixture
def brand(db):
    return f.make_brand("追蹤品牌", slug="followups")


def _payload(brand, customer_id=1):
    return {"brand_id": brand.pk, "customer_id": customer_id}


def _remember(payload):
    """A handler that writes to the database: one PeriodicRun row per customer id (unique name)."""
    PeriodicRun.objects.create(name=f"seen:{payload['customer_id']}")


def _seen() -> list[str]:
    return sorted(PeriodicRun.objects.filter(name__startswith="seen:").values_list("name", flat=True))


def test_a_durable_delivery_is_written_with_the_event_and_gone_once_delivered(
    registry, brand, django_capture_on_commit_callbacks
):
    events.subscribe("customer.created", _remember, durable="test.remember")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish("customer.created", **_payload(brand))
        row = FollowUp.objects.get()  # in the publishing transaction, before the commit
        assert (row.event, row.subscriber, row.payload) == (
            "customer.created",
            "test.remember",
            _payload(brand),
        )
        assert row.next_attempt_at > timezone.now()  # left to the in-process delivery first
        assert _seen() == []
    assert _seen() == ["seen:1"]
    assert not FollowUp.objects.exists()
    # the worker's pass finds nothing left: not delivered twice
    assert events.deliver_due(now=timezone.now() + LATER) == (0, 0)
    assert _seen() == ["seen:1"]


def test_nothing_is_owed_when_the_transaction_rolls_back(registry, brand):
    events.subscribe("customer.created", _remember, durable="test.remember")
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("customer.created", **_payload(brand))
        raise RuntimeError("rolled back")
    assert not FollowUp.objects.exists()


def test_a_failing_handler_is_retried_with_backoff_until_it_succeeds(
    registry, brand, django_capture_on_commit_callbacks
):
    failures = [RuntimeError("the first try fails"), RuntimeError("so does the second")]

    def flaky(payload):
        _remember(payload)  # written, then rolled back with the failure
        if failures:
            raise failures.pop(0)

    events.subscribe("customer.created", flaky, durable="test.flaky")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish("customer.created", **_payload(brand))
    row = FollowUp.objects.get()
    assert (row.attempts, row.last_error) == (1, "RuntimeError: the first try fails")
    assert _seen() == []
    first_retry = row.next_attempt_at
    assert events.deliver_due(now=first_retry - dt.timedelta(seconds=1)) == (0, 0)  # not due yet

    assert events.deliver_due(now=first_retry) == (0, 1)
    row.refresh_from_db()
    assert (row.attempts, row.last_error) == (2, "RuntimeError: so does the second")
    assert row.next_attempt_at - first_retry >= events.FIRST_RETRY_AFTER  # it waits longer each time

    assert events.deliver_due(now=timezone.now() + LATER) == (1, 0)
    assert _seen() == ["seen:1"]  # the handler's write took effect exactly once
    assert not FollowUp.objects.exists()
    assert events.deliver_due(now=timezone.now() + LATER) == (0, 0)


def test_a_row_already_delivered_is_not_delivered_again(registry, brand, django_capture_on_commit_callbacks):
    calls = []
    events.subscribe("customer.created", calls.append, durable="test.calls")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish("customer.created", **_payload(brand))
        row_id = FollowUp.objects.get().pk  # what a worker's pass might have read meanwhile
    assert calls == [_payload(brand)]
    # that worker, coming to the row after the in-process delivery, finds nothing to do
    assert (
        events._run_durable(row_id, "customer.created", "test.calls", calls.append, _payload(brand)) is None
    )
    assert calls == [_payload(brand)]


def test_bulk_publish_writes_the_rows_in_one_insert_and_skips_unwanted_payloads(
    registry, brand, django_assert_num_queries, django_capture_on_commit_callbacks
):
    seen = []
    events.subscribe(
        "customer.created", seen.append, durable="test.even", when=lambda p: p["customer_id"] % 2 == 0
    )
    events.subscribe("customer.created", lambda p: None)  # best-effort: no row
    payloads = [_payload(brand, n) for n in range(10)]
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        with django_assert_num_queries(1):
            events.publish_many("customer.created", payloads)
        assert sorted(FollowUp.objects.values_list("payload__customer_id", flat=True)) == [0, 2, 4, 6, 8]
    assert len(hooks) == 1
    hooks[0]()
    assert seen == [p for p in payloads if p["customer_id"] % 2 == 0]
    assert not FollowUp.objects.exists()


def test_nothing_is_written_for_events_without_durable_subscribers(
    registry, brand, django_assert_num_queries, django_capture_on_commit_callbacks
):
    events.subscribe("customer.created", lambda p: None)
    with django_capture_on_commit_callbacks(execute=False), django_assert_num_queries(0):
        events.publish_many("customer.created", [_payload(brand, n) for n in range(100)])


def test_in_transaction_subscribers_run_inside_publish_and_roll_back_with_it(registry, brand):
    events.subscribe_in_transaction("customer.created", _remember)
    with transaction.atomic():
        events.publish("customer.created", **_payload(brand, 7))
        assert _seen() == ["seen:7"]  # before the commit
    with pytest.raises(RuntimeError), transaction.atomic():
        events.publish("customer.created", **_payload(brand, 8))
        raise RuntimeError("rolled back")
    assert _seen() == ["seen:7"]


def test_an_error_in_an_in_transaction_subscriber_aborts_the_publisher(registry, brand):
    def broken(payload):
        raise ValueError("the rollup could not be written")

    events.subscribe_in_transaction("customer.created", broken)
    with pytest.raises(ValueError), transaction.atomic():
        events.publish("customer.created", **_payload(brand))


def test_a_row_for_an_unknown_subscriber_waits_with_the_reason(registry, brand):
    FollowUp.objects.create(
        brand=brand,
        event="customer.created",
        subscriber="gone.away",
        payload=_payload(brand),
        next_attempt_at=timezone.now(),
    )
    assert events.deliver_due() == (0, 1)
    row = FollowUp.objects.get()
    assert row.attempts == 1 and "gone.away" in row.last_error and row.next_attempt_at > timezone.now()


def test_subscribe_refuses_a_name_taken_by_another_handler_and_when_without_durable(registry):
    events.subscribe("customer.created", _remember, durable="test.remember")
    events.subscribe("customer.merged", _remember, durable="test.remember")  # the same handler: fine
    with pytest.raises(ValueError, match="already"):
        events.subscribe("customer.created", print, durable="test.remember")
    with pytest.raises(ValueError, match="durable"):
        events.subscribe("customer.created", print, when=lambda p: True)
    with pytest.raises(KeyError):
        events.subscribe("no.such.event", print, durable="test.print")
    with pytest.raises(KeyError):
        events.subscribe_in_transaction("no.such.event", print)


def _waking_worker(**options):
    return worker.WakingWorker.for_all_queues("test-host:3", **options)


def test_an_idle_worker_delivers_due_rows_at_most_every_pass_interval(registry, brand):
    calls = []
    events.subscribe("customer.created", calls.append, durable="test.calls")

    def owe(customer_id):
        FollowUp.objects.create(
            brand=brand,
            event="customer.created",
            subscriber="test.calls",
            payload=_payload(brand, customer_id),
            next_attempt_at=timezone.now(),
        )

    waking = _waking_worker(followup_pass_seconds=3600)
    owe(1)
    assert waking.deliver_followups() == (1, 0)
    assert calls == [_payload(brand, 1)]
    owe(2)
    assert waking.deliver_followups() == (0, 0)  # too soon after the last pass
    assert calls == [_payload(brand, 1)]
    assert _waking_worker(followup_pass_seconds=None).deliver_followups() == (0, 0)  # switched off
    assert _waking_worker().deliver_followups() == (1, 0)
    assert calls == [_payload(brand, 1), _payload(brand, 2)]


def test_the_worker_loop_passes_over_the_follow_ups_when_idle(registry, brand, monkeypatch):
    calls = []
    events.subscribe("customer.created", calls.append, durable="test.calls")
    FollowUp.objects.create(
        brand=brand,
        event="customer.created",
        subscriber="test.calls",
        payload=_payload(brand),
        next_attempt_at=timezone.now(),
    )
    monkeypatch.setattr(worker, "close_old_connections", lambda: None)  # the test's transaction stays open
    waking = _waking_worker()

    class OneWait:
        def wait(self, timeout):
            waking.running = False  # stop after the first idle moment

        def close(self):
            pass

    waking._bell = OneWait()
    waking.run()
    assert calls == [_payload(brand)]
    assert not FollowUp.objects.exists()


def test_the_product_registers_its_follow_ups_as_durable():
    durable = {key for key in events._by_key}
    assert {
        "attribution.order_recorded",
        "attribution.orders_batch_recorded",
        "attribution.order_refunded",
        "attribution.order_cancelled",
        "integrations.order.attributed",
        "tracking.order.recorded",
        "tracking.message.created",
        "analytics.order_recorded",
        "customers.search_changed",
    } <= durable
    from omo.inbox import realtime

    # socket pushes stay best-effort
    assert realtime.on_message_created in events._subscribers["message.created"]
    assert realtime.on_message_created not in events._durable_keys


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_passing_at_once_deliver_each_row_once(registry):
    import threading

    from django.db import connections

    brand = f.make_brand("並行品牌", slug="concurrent-followups")
    events.subscribe("customer.created", _remember, durable="test.remember")
    FollowUp.objects.bulk_create(
        FollowUp(
            brand=brand,
            event="customer.created",
            subscriber="test.remember",
            payload=_payload(brand, n),
            next_attempt_at=timezone.now(),
        )
        for n in range(40)
    )
    barrier = threading.Barrier(2)
    results: list[tuple[int, int]] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(events.deliver_due(now=timezone.now() + LATER))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(done for done, _ in results) == 40 and all(failed == 0 for _, failed in results)
    assert _seen() == sorted(f"seen:{n}" for n in range(40))  # a unique name each: a second run would fail
    assert not FollowUp.objects.exists()
