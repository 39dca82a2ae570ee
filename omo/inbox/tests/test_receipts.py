"""Webhook receipts as the inbox keeps them: stored once per event id, requests stored whole split
into receipts, a pending receipt claimed once, its outcome, failures and their retry."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections, transaction
from django.utils import timezone, translation

from omo.inbox import receipts, selectors
from omo.inbox.models import Inbox, WebhookIntake, WebhookReceipt
from omo.platforms.base import ReceiptRow


@pytest.fixture
def inbox(brand):
    return Inbox.objects.create(brand=brand, platform="line", name="LINE")


def row(event_id: str, *, at: dt.datetime | None = None, text: str = "hi") -> ReceiptRow:
    return ReceiptRow(event_id, "message", at, {"webhookEventId": event_id, "text": text})


def split(body: bytes) -> list[ReceiptRow]:
    """A stand-in parser: one event per comma-separated id; "bad" does not parse."""
    text = body.decode()
    if text == "bad":
        raise ValueError("not a webhook body")
    return [row(event_id) for event_id in text.split(",")]


def stored(inbox: Inbox) -> dict[str, str]:
    return dict(WebhookReceipt.objects.filter(inbox=inbox).values_list("event_id", "status"))


def test_receipts_are_stored_once_per_event_id(inbox):
    now = timezone.now()
    receipts.insert_receipts([(inbox.pk, row("e1"), now), (inbox.pk, row("e2"), now)])
    receipts.insert_receipts([(inbox.pk, row("e1", text="again"), now)])  # a redelivery: a no-op

    assert stored(inbox) == {"e1": "pending", "e2": "pending"}
    assert WebhookReceipt.objects.get(event_id="e1").payload["text"] == "hi"


def test_pending_receipts_come_oldest_event_first(inbox):
    now = timezone.now()
    receipts.insert_receipts(
        [
            (inbox.pk, row("late", at=now), now),
            (inbox.pk, row("early", at=now - dt.timedelta(minutes=1)), now),
            (inbox.pk, row("undated"), now),
        ]
    )
    WebhookReceipt.objects.filter(event_id="late").update(status="processed")

    pending = selectors.pending_receipts(inbox.pk, limit=10)

    assert [payload["webhookEventId"] for _, payload in pending] == ["undated", "early"]
    assert selectors.pending_receipts(inbox.pk, limit=1)[0][1]["webhookEventId"] == "undated"


def test_the_inbox_to_process_says_whether_intakes_wait(inbox, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = selectors.inbox_to_process(inbox.pk)
    assert found is not None and found == (inbox, False) and found[0].brand.pk == inbox.brand_id
    WebhookIntake.objects.create(inbox=inbox, body=b"e1", received_at=timezone.now())
    assert selectors.inbox_to_process(inbox.pk) == (inbox, True)
    assert selectors.inbox_to_process(0) is None


def test_intakes_are_split_into_receipts_and_deleted(inbox, other_brand):
    other = Inbox.objects.create(brand=other_brand, platform="line", name="other")
    now = timezone.now()
    WebhookIntake.objects.create(inbox=inbox, body=b"e1,e2", received_at=now)
    WebhookIntake.objects.create(inbox=inbox, body=b"e2,e3", received_at=now)  # e2 again: a no-op
    WebhookIntake.objects.create(inbox=other, body=b"x1", received_at=now)

    assert receipts.expand_intakes(inbox, split, chunk=1) == 2

    assert stored(inbox) == {"e1": "pending", "e2": "pending", "e3": "pending"}
    assert list(WebhookIntake.objects.values_list("inbox_id", flat=True)) == [other.pk]  # not this inbox's
    assert receipts.expand_intakes(inbox, split) == 0


def test_an_intake_that_does_not_parse_is_quarantined_with_its_body(inbox):
    intake = WebhookIntake.objects.create(inbox=inbox, body=b"bad", received_at=timezone.now())

    assert receipts.expand_intakes(inbox, split) == 1
    assert receipts.expand_intakes(inbox, split) == 0  # set aside: not taken again

    intake.refresh_from_db()
    assert intake.failed_at is not None and bytes(intake.body) == b"bad"
    assert (
        intake.error.startswith('{"reason":"unparseable","detail":') and "not a webhook body" in intake.error
    )
    assert not WebhookReceipt.objects.exists()
    total, rows = receipts.quarantined(inbox.pk)
    assert total == 1 and (rows[0].kind, rows[0].id, rows[0].reason_code) == (
        "intake",
        intake.pk,
        "unparseable",
    )
    assert rows[0].reason == f"儲存的請求內容無法解析：{rows[0].reason_params['detail']}"
    with translation.override("en"):
        assert rows[0].reason.startswith("The stored request does not parse: ")

    assert receipts.requeue_failed(inbox.pk) == 1  # back in line after a fix
    intake.refresh_from_db()
    assert (intake.failed_at, intake.error) == (None, "")


def test_a_long_failure_keeps_its_sentence_and_the_end_of_its_detail(inbox):
    receipts.insert_receipts([(inbox.pk, row("e1"), timezone.now())])
    receipt = WebhookReceipt.objects.get()

    receipts.mark_failed(receipt.pk, error="Processing failed: it broke.\n\n" + "x" * 5000 + "the end\x00")

    receipt.refresh_from_db()
    assert len(receipt.error) == 4000 and receipt.error.endswith("the end\\0")  # no NUL stored
    assert receipts.reason_of(receipt.error) == "Processing failed: it broke."


def test_a_claimed_receipt_records_its_outcome_and_is_not_claimed_again(inbox):
    receipts.insert_receipts([(inbox.pk, row("e1"), timezone.now())])
    receipt_id = WebhookReceipt.objects.get().pk

    with transaction.atomic():
        receipt = receipts.claim_pending(receipt_id)
        assert receipt is not None
        receipts.record_outcome(receipt, status="ignored", note="a group chat")

    receipt.refresh_from_db()
    assert (receipt.status, receipt.error) == ("ignored", "a group chat")
    assert receipt.processed_at is not None
    with transaction.atomic():
        assert receipts.claim_pending(receipt_id) is None


def test_a_failure_is_recorded_only_on_a_pending_receipt_and_can_be_retried(inbox):
    now = timezone.now()
    receipts.insert_receipts([(inbox.pk, row("e1"), now), (inbox.pk, row("e2"), now)])
    first, second = WebhookReceipt.objects.order_by("event_id")
    WebhookReceipt.objects.filter(pk=second.pk).update(status="processed")

    assert receipts.mark_failed(first.pk, error="x" * 5000 + "the end") is True
    assert receipts.mark_failed(second.pk, error="too late") is False  # another worker finished it

    first.refresh_from_db()
    assert first.status == "failed" and len(first.error) == 4000 and first.error.endswith("the end")
    assert stored(inbox) == {"e1": "failed", "e2": "processed"}

    assert receipts.requeue_failed(inbox.pk) == 1
    first.refresh_from_db()
    assert (first.status, first.error, first.processed_at) == ("pending", "", None)
    assert receipts.requeue_failed(inbox.pk) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_receipt_another_worker_holds_is_skipped_not_waited_for(inbox):
    receipts.insert_receipts([(inbox.pk, row("e1"), timezone.now())])
    receipt_id = WebhookReceipt.objects.get().pk
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                assert receipts.claim_pending(receipt_id) is not None
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            assert receipts.claim_pending(receipt_id) is None  # SKIP LOCKED: no wait
    finally:
        release.set()
        worker.join(10)
    with transaction.atomic():
        assert receipts.claim_pending(receipt_id) is not None  # free again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_split_different_intakes(inbox):
    now = timezone.now()
    for i in range(4):
        WebhookIntake.objects.create(inbox=inbox, body=f"e{i}".encode(), received_at=now)
    first_chunk_held, release = threading.Event(), threading.Event()

    def slow_split(body: bytes) -> list[ReceiptRow]:
        first_chunk_held.set()
        release.wait(10)
        return split(body)

    results: list[int] = []

    def other_worker() -> None:
        try:
            results.append(receipts.expand_intakes(inbox, slow_split, chunk=1))
        finally:
            connections.close_all()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert first_chunk_held.wait(10)
        # The other worker holds the oldest intake: this one takes the rest without waiting.
        mine = receipts.expand_intakes(inbox, split, chunk=1)
    finally:
        release.set()
        worker.join(10)

    assert mine == 3 and results == [1]
    assert sorted(stored(inbox)) == ["e0", "e1", "e2", "e3"]
    assert not WebhookIntake.objects.exists()
