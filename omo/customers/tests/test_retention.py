"""Retention: expired raw events and receipts are deleted per brand, in chunks; settings in the console."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from omo.core import schedule
from omo.core.models import AuditLog
from omo.customers import retention
from omo.inbox.models import Inbox, WebhookReceipt
from omo.tracking.models import TrackedEvent, TrackingIntake
from omo.tracking.services import create_source

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def event(brand, n: int, days_old: int) -> TrackedEvent:
    at = NOW - dt.timedelta(days=days_old)
    return TrackedEvent.objects.create(
        brand=brand,
        type="track",
        event="Viewed",
        message_id=f"m-{brand.pk}-{n}",
        received_at=at,
        timestamp=at,
    )


def receipt(inbox, n: int, days_old: int, status: str = "processed") -> WebhookReceipt:
    row = WebhookReceipt.objects.create(
        inbox=inbox, event_id=f"e-{n}", event_type="message", payload={}, status=status
    )
    WebhookReceipt.objects.filter(pk=row.pk).update(received_at=NOW - dt.timedelta(days=days_old))
    return row


def intake(source, days_old: int, status: str = "processed") -> TrackingIntake:
    return TrackingIntake.objects.create(
        brand_id=source.brand_id,
        source=source,
        call="batch",
        body=b"",
        status=status,
        received_at=NOW - dt.timedelta(days=days_old),
    )


def test_purge_deletes_only_what_is_older_than_the_brand_keeps(brand, other_brand):
    retention.settings_for(brand)  # defaults: 730 days of events, 30 of receipts
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    other_inbox = Inbox.objects.create(brand=other_brand, platform="line", name="LINE")
    old_events = [event(brand, n, 800) for n in range(5)]
    kept_event = event(brand, 99, 700)
    other_old = event(other_brand, 1, 800)
    other_settings = retention.settings_for(other_brand)
    other_settings.event_retention_days = 1000
    other_settings.save()
    old = receipt(inbox, 1, 40)
    pending = receipt(inbox, 2, 40, status="pending")  # never processed: never deleted
    fresh = receipt(inbox, 3, 5)
    elsewhere = receipt(other_inbox, 4, 40)
    source, _ = create_source(brand, name="web", actor=None)
    old_call = intake(source, 40)
    waiting_call = intake(source, 40, status="pending")
    fresh_call = intake(source, 5)

    results = retention.purge_all(now=NOW, chunk=2)

    assert results[brand.pk] == {"tracked_events": 5, "webhook_receipts": 1, "tracking_intakes": 1}
    assert not TrackingIntake.objects.filter(pk=old_call.pk).exists()
    assert set(TrackingIntake.objects.values_list("pk", flat=True)) == {waiting_call.pk, fresh_call.pk}
    assert results[other_brand.pk] == {"tracked_events": 0, "webhook_receipts": 1, "tracking_intakes": 0}
    assert not TrackedEvent.objects.filter(pk__in=[e.pk for e in old_events]).exists()
    assert set(TrackedEvent.objects.values_list("pk", flat=True)) == {kept_event.pk, other_old.pk}
    assert set(WebhookReceipt.objects.values_list("pk", flat=True)) == {pending.pk, fresh.pk}
    assert not WebhookReceipt.objects.filter(pk__in=[old.pk, elsewhere.pk]).exists()
    assert retention.purge_all(now=NOW)[brand.pk] == {
        "tracked_events": 0,
        "webhook_receipts": 0,
        "tracking_intakes": 0,
    }


def test_the_job_is_scheduled_daily():
    [job] = [job for job in schedule.registered() if job.name == "customers.purge_expired"]
    assert job.interval == dt.timedelta(days=1)
    assert job.at == dt.time(3, 30)  # at night, local time
    assert job.task_path == "omo.customers.retention.purge_expired"


def test_task_runs_the_purge(brand):
    event(brand, 1, 3000)
    assert retention.purge_expired.call() == {
        str(brand.pk): {"tracked_events": 1, "webhook_receipts": 0, "tracking_intakes": 0}
    }


def test_console_settings_validate_and_audit(console, brand, hq_admin):
    url = reverse("console:privacy_settings")
    page = console.get(url)
    assert page.status_code == 200 and 'value="730"' in page.content.decode()
    bad = console.post(url, {"event_retention_days": "0", "receipt_retention_days": "abc"})
    assert bad.status_code == 400
    assert retention.settings_for(brand).event_retention_days == 730
    done = console.post(url, {"event_retention_days": "365", "receipt_retention_days": "14"})
    assert done.status_code == 302
    current = retention.settings_for(brand)
    assert (current.event_retention_days, current.receipt_retention_days) == (365, 14)
    entry = AuditLog.objects.get(action="customer_settings.retention_changed")
    assert entry.detail == {
        "before": {"event_retention_days": 730, "receipt_retention_days": 30},
        "after": {"event_retention_days": 365, "receipt_retention_days": 14},
    }


@pytest.mark.parametrize(("field", "days"), [("event_retention_days", "0"), ("receipt_retention_days", "x")])
def test_service_names_the_bad_field(brand, hq_admin, field, days):
    from omo.core.audit import Actor

    values = {"event_retention_days": "30", "receipt_retention_days": "30", field: days}
    with pytest.raises(retention.RetentionError) as raised:
        retention.update_retention(
            brand,
            event_days=values["event_retention_days"],
            receipt_days=values["receipt_retention_days"],
            actor=Actor(brand=brand, user=hq_admin),
        )
    assert raised.value.field == field
    assert timezone.now()  # settings untouched
    assert retention.settings_for(brand).event_retention_days == 730
