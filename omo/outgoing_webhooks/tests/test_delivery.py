"""Sending to a real HTTP receiver: signature, retries and backoff, permanent failures, timeouts,
auto-pause, redelivery, secret rotation and the sweep."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.test import TestCase
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.core.models import AuditLog
from omo.outgoing_webhooks import delivery, services, signing
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.outgoing_webhooks.topics import event_id

TASK = "omo.outgoing_webhooks.tasks.deliver_webhook"


def binding_payload(brand, binding_id: int = 41) -> dict:
    return {
        "brand_id": brand.pk,
        "binding_id": binding_id,
        "customer_id": None,
        "clerk_id": None,
        "store_id": None,
        "source": "manual",
    }


def queue_one(brand, binding_id: int = 41) -> WebhookDelivery:
    (pk,) = services.record_event("binding.created", binding_payload(brand, binding_id))
    return WebhookDelivery.objects.get(pk=pk)


def attempt(delivery_id: int, **kwargs) -> dict:
    """One attempt, with what it schedules after commit (a deferred retry task) run on the way out."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return delivery.attempt(delivery_id, **kwargs)


def make_due(row: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


def verify_as_documented(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's recipe from docs/webhooks.md, written out independently of omo.outgoing_webhooks.signing."""
    event, stamp = headers["Omo-Webhook-Id"], headers["Omo-Webhook-Timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{event}.{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(part.removeprefix("v1="), expected)
        for part in headers["Omo-Signature"].split()
        if part.startswith("v1=")
    )


def test_a_signed_event_reaches_the_receiver(brand, hook, receiver):
    endpoint, secret = hook
    row = queue_one(brand)
    outcome = attempt(row.pk)
    assert outcome["state"] == "delivered" and outcome["response_status"] == 200
    (request,) = receiver.requests
    assert request.path == "/hooks/omo"
    assert request.headers["Omo-Webhook-Id"] == row.event_id == event_id(brand.pk, "binding.created", 41)
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.body == row.body.encode()
    assert verify_as_documented(secret, request.headers, request.body)
    assert signing.verify(
        secret,
        event_id=request.headers["Omo-Webhook-Id"],
        timestamp=request.headers["Omo-Webhook-Timestamp"],
        body=request.body,
        header=request.headers["Omo-Signature"],
    )
    # a byte changed, another secret or an old timestamp: refused
    assert not verify_as_documented(secret, request.headers, request.body + b" ")
    assert not verify_as_documented(signing.new_secret(), request.headers, request.body)
    assert not signing.verify(
        secret,
        event_id=row.event_id,
        timestamp=request.headers["Omo-Webhook-Timestamp"],
        body=request.body,
        header=request.headers["Omo-Signature"],
        now=time.time() + 600,
    )
    event = json.loads(request.body)
    assert set(event) == {"id", "type", "created_at", "brand_id", "data"}
    assert (event["id"], event["type"], event["brand_id"]) == (row.event_id, "binding.created", brand.pk)
    assert event["created_at"].endswith("Z")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == ("delivered", 1, 200)
    assert row.duration_ms is not None and row.delivered_at is not None
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.last_success_at is not None


def test_500_then_200_is_delivered_once_after_two_attempts(brand, hook, receiver):
    receiver.fail(1, 500)
    row = queue_one(brand)
    before = timezone.now()
    first = attempt(row.pk)
    assert first["state"] == "pending" and first["response_status"] == 500
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
    assert "HTTP 500" in row.error
    # first retry after 30 s ± 20 %, as a deferred task
    delay = (row.next_attempt_at - before).total_seconds()
    assert 24 <= delay <= 37
    task = DBTaskResult.objects.get(task_path=TASK, args_kwargs__args__0=row.pk, run_after__isnull=False)
    assert abs((task.run_after - row.next_attempt_at).total_seconds()) < 1
    # the task woken early does nothing: its time has not come
    assert attempt(row.pk)["state"] == "skipped"
    assert len(receiver.requests) == 1

    make_due(row)
    assert attempt(row.pk)["state"] == "delivered"
    assert attempt(row.pk)["state"] == "skipped"  # a duplicate task sends nothing more
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == ("delivered", 2, 200)
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert {r.headers["Omo-Webhook-Id"] for r in receiver.requests} == {row.event_id}
    assert {r.body for r in receiver.requests} == {row.body.encode()}
    assert [r.headers["Omo-Webhook-Attempt"] for r in receiver.requests] == ["1", "2"]
    assert [h["status"] for h in row.history] == [500, 200]


def test_400_fails_at_once_and_is_not_retried(brand, hook, receiver):
    receiver.fail(1, 400)
    row = queue_one(brand)
    assert attempt(row.pk)["state"] == "failed"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status, row.next_attempt_at) == ("failed", 1, 400, None)
    assert not DBTaskResult.objects.filter(task_path=TASK, run_after__isnull=False).exists()
    make_due(row)
    assert attempt(row.pk)["state"] == "skipped"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 429, 502, 503])
def test_transient_answers_are_retried(brand, hook, receiver, status):
    receiver.fail(1, status)
    row = queue_one(brand)
    assert attempt(row.pk)["state"] == "pending"


def test_retry_after_is_respected(brand, hook, receiver):
    receiver.fail(1, 429, headers={"Retry-After": "3600"})
    row = queue_one(brand)
    before = timezone.now()
    attempt(row.pk)
    row.refresh_from_db()
    assert 3599 <= (row.next_attempt_at - before).total_seconds() <= 3602


def test_a_receiver_that_hangs_times_out_and_is_retried(brand, hook, receiver, settings):
    settings.OMO_WEBHOOK_TIMEOUT = 0.5
    receiver.hang(2.0)
    row = queue_one(brand)
    started = time.monotonic()
    outcome = attempt(row.pk)
    assert time.monotonic() - started < 1.8
    assert outcome["state"] == "pending"
    row.refresh_from_db()
    assert row.response_status is None and "逾時" in row.error and "timed out" in row.error
    assert row.duration_ms >= 450
    make_due(row)
    assert attempt(row.pk)["state"] == "delivered"
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_refused_connection_is_retried(brand, actor, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
    services.create_endpoint(brand, url=receiver.url, topics=["binding.created"], actor=actor)
    row = queue_one(brand)
    assert attempt(row.pk)["state"] == "pending"
    row.refresh_from_db()
    assert "無法連線" in row.error and "could not connect" in row.error


def test_410_gone_fails_and_pauses_the_endpoint(brand, hook, receiver):
    endpoint, _ = hook
    receiver.fail(1, 410)
    row = queue_one(brand)
    assert attempt(row.pk)["state"] == "failed"
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.paused_automatically
    assert "410" in endpoint.paused_reason
    assert AuditLog.objects.filter(action="webhook.auto_paused", target_id=str(endpoint.pk)).exists()
    # a paused endpoint gets no new events
    assert services.record_event("binding.created", binding_payload(brand, 42)) == []


def test_gives_up_after_the_last_attempt(brand, hook, receiver):
    receiver.fail(delivery.MAX_ATTEMPTS, 503)
    row = queue_one(brand)
    states = []
    for _ in range(delivery.MAX_ATTEMPTS):
        make_due(row)
        states.append(attempt(row.pk)["state"])
    assert states == ["pending"] * (delivery.MAX_ATTEMPTS - 1) + ["failed"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 8)
    assert len(receiver.requests) == 8
    # the whole schedule spans about a day
    assert 18 * 3600 < sum(delivery.RETRY_DELAYS) < 24 * 3600


def test_backoff_grows_with_jitter_and_stays_bounded():
    import random

    rng = random.Random(7)
    delays = [delivery.retry_delay(n, rng=rng) for n in range(1, delivery.MAX_ATTEMPTS)]
    assert all(a < b for a, b in zip(delays, delays[1:], strict=False))
    for n, value in enumerate(delays, start=1):
        base = delivery.RETRY_DELAYS[n - 1]
        assert base * 0.8 <= value <= base * 1.2
    assert delivery.retry_after_seconds("120") == 120
    assert delivery.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420) == 60
    assert delivery.retry_after_seconds("soon") is None


def test_consecutive_failures_pause_the_endpoint_and_resume_sends_what_was_held(
    brand, hook, receiver, actor, settings
):
    settings.OMO_WEBHOOK_PAUSE_AFTER = 3
    endpoint, _ = hook
    receiver.fail(3, 500)
    rows = [queue_one(brand, binding_id=n) for n in (1, 2, 3)]
    for row in rows:
        attempt(row.pk)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.paused_automatically
    assert "連續 3 次" in endpoint.paused_reason and "3 failed attempts" in endpoint.paused_reason
    # held: the retry finds the endpoint paused and sends nothing
    make_due(rows[0])
    assert attempt(rows[0].pk)["state"] == "held"
    assert len(receiver.requests) == 3
    assert delivery.sweep(now=timezone.now() + dt.timedelta(hours=1))["requeued"] == []

    DBTaskResult.objects.all().delete()
    services.resume_endpoint(endpoint, actor=actor)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and endpoint.paused_reason == ""
    # the resume's tasks are enqueued after commit (here the test's transaction): run them by hand
    for row in rows:
        assert attempt(row.pk)["state"] == "delivered"
    assert AuditLog.objects.filter(action="webhook.resumed", target_id=str(endpoint.pk)).exists()


def test_redeliver_sends_the_same_event_again(brand, hook, receiver, actor):
    row = queue_one(brand)
    attempt(row.pk)
    services.redeliver(row, actor=actor)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
    assert attempt(row.pk, force=True)["state"] == "delivered"
    assert [r.headers["Omo-Webhook-Id"] for r in receiver.requests] == [row.event_id] * 2
    entry = AuditLog.objects.get(action="webhook.redelivered")
    assert entry.detail["event_id"] == row.event_id
    # still waiting to be sent: nothing to redeliver
    WebhookDelivery.objects.filter(pk=row.pk).update(status="pending")
    row.refresh_from_db()
    with pytest.raises(services.WebhookError) as refused:
        services.redeliver(row, actor=actor)
    assert refused.value.status == 409


def test_rotation_signs_with_both_secrets_for_a_day(brand, hook, receiver, actor):
    endpoint, old = hook
    new = services.rotate_secret(endpoint, actor=actor)
    assert new != old and new.startswith("whsec_")
    attempt(queue_one(brand, 1).pk)
    request = receiver.requests[-1]
    assert len(request.headers["Omo-Signature"].split()) == 2
    assert verify_as_documented(new, request.headers, request.body)
    assert verify_as_documented(old, request.headers, request.body)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    attempt(queue_one(brand, 2).pk)
    request = receiver.requests[-1]
    assert verify_as_documented(new, request.headers, request.body)
    assert not verify_as_documented(old, request.headers, request.body)
    assert AuditLog.objects.filter(action="webhook.secret_rotated").count() == 1


def test_the_secret_is_stored_encrypted(brand, hook):
    endpoint, secret = hook
    row = WebhookEndpoint.objects.filter(pk=endpoint.pk).values().get()
    assert secret not in str(row)
    assert secret not in str(list(AuditLog.objects.values()))
    assert services.signing_secrets(endpoint) == [secret]


def test_the_same_event_published_twice_is_queued_once(brand, hook):
    first = services.record_event("binding.created", binding_payload(brand))
    assert len(first) == 1
    assert services.record_event("binding.created", binding_payload(brand)) == []
    assert WebhookDelivery.objects.count() == 1


def test_only_subscribed_active_endpoints_of_the_brand_get_the_event(brand, other_brand, actor, receiver):
    orders_only, _ = services.create_endpoint(
        brand, url=receiver.url, topics=["order.attributed"], actor=actor
    )
    bindings, _ = services.create_endpoint(brand, url=receiver.url, topics=["binding.created"], actor=actor)
    elsewhere = WebhookEndpoint.objects.create(
        brand=other_brand, url=receiver.url, topics=["binding.created"], secret_encrypted="x", secret_hint="x"
    )
    written = services.record_event("binding.created", binding_payload(brand))
    assert set(WebhookDelivery.objects.filter(pk__in=written).values_list("endpoint_id", flat=True)) == {
        bindings.pk
    }
    assert not WebhookDelivery.objects.filter(endpoint__in=[orders_only, elsewhere]).exists()


def test_sweep_requeues_lost_and_abandoned_deliveries_and_fails_old_ones(brand, hook):
    now = timezone.now()
    lost = queue_one(brand, 1)
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=now - dt.timedelta(minutes=10))
    scheduled = queue_one(brand, 2)
    WebhookDelivery.objects.filter(pk=scheduled.pk).update(next_attempt_at=now + dt.timedelta(minutes=10))
    dead_worker = queue_one(brand, 3)
    WebhookDelivery.objects.filter(pk=dead_worker.pk).update(
        status="sending", attempts=2, claimed_at=now - dt.timedelta(minutes=10)
    )
    ancient = queue_one(brand, 4)
    WebhookDelivery.objects.filter(pk=ancient.pk).update(created_at=now - dt.timedelta(days=4))
    DBTaskResult.objects.all().delete()

    result = delivery.sweep(now=now)
    assert sorted(result["requeued"]) == sorted([lost.pk, dead_worker.pk])
    assert result["failed"] == [ancient.pk]
    statuses = dict(WebhookDelivery.objects.values_list("id", "status"))
    assert statuses[dead_worker.pk] == "pending" and statuses[ancient.pk] == "failed"
    # a second sweep right after leaves the requeued ones to their new tasks
    assert delivery.sweep(now=now + dt.timedelta(seconds=30)) == {"requeued": [], "failed": []}


def test_the_sweep_is_a_periodic_job():
    from omo.core import schedule

    (job,) = [
        job
        for job in schedule.registered()
        if job.task_path == "omo.outgoing_webhooks.tasks.sweep_webhook_deliveries"
    ]
    assert job.interval == dt.timedelta(minutes=1)


def test_private_addresses_are_refused_at_send_time_outside_development(brand, hook, receiver, settings):
    row = queue_one(brand)
    settings.OMO_WEBHOOK_ALLOW_LOCAL = False
    assert attempt(row.pk)["state"] == "failed"
    row.refresh_from_db()
    assert "內部網路" in row.error
    assert receiver.requests == []


def test_an_endpoint_deleted_in_another_process_gets_nothing_and_others_still_do(
    brand, hook, actor, receiver
):
    kept, _ = services.create_endpoint(brand, url=receiver.url, topics=["binding.created"], actor=actor)
    services.active_endpoints(brand.pk)  # cached with both endpoints
    WebhookEndpoint.objects.filter(pk=hook[0].pk).delete()  # as another process would, cache untouched
    written = services.record_event("binding.created", binding_payload(brand))
    assert list(WebhookDelivery.objects.filter(pk__in=written).values_list("endpoint_id", flat=True)) == [
        kept.pk
    ]
