"""Background work for platforms: turn stored webhook receipts into domain actions; fetch late media.

`process_receipts(inbox_id)` is enqueued by the webhook edge in the same transaction that stores
the receipts. It takes the inbox's pending receipts in event-time order and, for each one:
parses it with the platform SDK, does the network part (profile, media) outside any transaction,
then claims the receipt (SKIP LOCKED on PostgreSQL, so several workers share the work; SQLite has
one writer anyway) and applies the domain steps in one transaction with the status change, so a
receipt is either fully processed or still pending. An error marks that receipt failed (with the
error) and never stops the others.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import traceback
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django_tasks import task

from omo.core import waiting
from omo.core.edge import parse_json
from omo.inbox.models import Inbox, Message, WebhookIntake, WebhookReceipt
from omo.platforms import get_adapter

logger = logging.getLogger(__name__)

# Inbox.platform → module with `prepare(inbox, adapter, event)`, `apply(inbox, event, prepared)`, `Prepared`.
INBOUND_MODULES: dict[str, str] = {"line": "omo.platforms.line.inbound"}
BATCH_SIZE = 200
INTAKE_CHUNK = 200  # requests split into receipts per transaction (up to ~1,000 LINE events)
MAX_BATCHES = 25
CONTENT_RETRIES = 6


def _inbound_module(platform: str) -> Any:
    return importlib.import_module(INBOUND_MODULES[platform])


def _claim(receipt_id: int) -> WebhookReceipt | None:
    queryset = WebhookReceipt.objects.filter(pk=receipt_id, status=WebhookReceipt.Status.PENDING)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return queryset.first()


def process_receipt(inbox: Inbox, receipt_id: int, payload: dict[str, Any]) -> str:
    """Process one pending receipt; returns its new status, or "skipped" when another worker has it."""
    adapter = get_adapter(inbox)
    module = _inbound_module(inbox.platform)
    event = adapter.parse_event(payload)
    try:
        prepared = module.prepare(inbox, adapter, event)
    except Exception as exc:  # network trouble must not lose the event: record it without extras
        logger.exception("preparing receipt %s failed", receipt_id)
        prepared = module.Prepared(notes=[f"not prepared: {exc}"[:200]])
    try:
        with transaction.atomic():
            receipt = _claim(receipt_id)
            if receipt is None:
                return "skipped"
            outcome = module.apply(inbox, event, prepared)
            receipt.status = outcome.status
            receipt.error = outcome.note
            receipt.processed_at = timezone.now()
            receipt.save(update_fields=["status", "error", "processed_at"])
            return outcome.status
    except Exception:
        logger.exception("processing receipt %s failed", receipt_id)
        WebhookReceipt.objects.filter(pk=receipt_id, status=WebhookReceipt.Status.PENDING).update(
            status=WebhookReceipt.Status.FAILED,
            error=traceback.format_exc()[-4000:],
            processed_at=timezone.now(),
        )
        return WebhookReceipt.Status.FAILED


def expand_intakes(inbox: Inbox, *, chunk: int = INTAKE_CHUNK) -> int:
    """Split the requests the edge stored whole (WebhookIntake) into receipts, one per event.

    A repeated event id is a no-op, as at the edge. Each chunk is one transaction: its receipts
    are inserted and its intakes deleted together; SKIP LOCKED lets two workers share the work.
    A body that no longer parses (the edge checked it, so only after a change of the parser) is
    kept as a failed receipt holding the body, never dropped. Returns the requests expanded."""
    from omo.platforms.edge import insert_receipts  # the edge enqueues this module's tasks

    adapter = get_adapter(inbox)
    done = 0
    while True:
        with transaction.atomic():
            intakes = WebhookIntake.objects.filter(inbox_id=inbox.pk).order_by("id")
            if connection.features.has_select_for_update_skip_locked:
                intakes = intakes.select_for_update(skip_locked=True)
            batch = list(intakes.values_list("id", "body", "received_at")[:chunk])
            if not batch:
                return done
            entries = []
            for intake_id, body, received_at in batch:
                try:
                    rows = adapter.receipt_rows(parse_json(bytes(body)))
                except (ValueError, UnicodeDecodeError) as exc:
                    logger.error("webhook intake %s of inbox %s does not parse: %s", intake_id, inbox.pk, exc)
                    _keep_unparsed(inbox, intake_id, bytes(body), exc)
                    continue
                entries += [(inbox.pk, row, received_at) for row in rows]
            insert_receipts(entries)
            WebhookIntake.objects.filter(pk__in=[intake_id for intake_id, _, _ in batch]).delete()
        done += len(batch)


def _keep_unparsed(inbox: Inbox, intake_id: int, body: bytes, exc: Exception) -> None:
    WebhookReceipt.objects.get_or_create(
        inbox=inbox,
        event_id=f"intake:{intake_id}",
        defaults={
            "event_type": "unparsed",
            "payload": {"body": body.decode("utf-8", "replace")},
            "status": WebhookReceipt.Status.FAILED,
            "error": f"the stored request does not parse: {exc}"[:4000],
            "processed_at": timezone.now(),
        },
    )


def process_pending(inbox_id: int, *, max_batches: int = MAX_BATCHES) -> dict[str, int]:
    """Process the inbox's pending receipts, oldest event first, until none is left.

    Requests the edge stored whole are split into receipts first. After `max_batches` batches the
    rest goes to a new task, so one busy inbox cannot hold a worker while other inboxes wait."""
    counts: Counter[str] = Counter()
    # Whether the edge stored whole requests comes with the inbox: no extra round trip when not.
    inbox = (
        Inbox.objects.select_related("brand")
        .annotate(has_intakes=Exists(WebhookIntake.objects.filter(inbox_id=OuterRef("pk"))))
        .filter(pk=inbox_id)
        .first()
    )
    if inbox is None:
        return dict(counts)
    if inbox.has_intakes:
        expand_intakes(inbox)
    for _ in range(max_batches):
        batch = list(
            WebhookReceipt.objects.filter(inbox_id=inbox_id, status=WebhookReceipt.Status.PENDING)
            .order_by(F("occurred_at").asc(nulls_first=True), "id")
            .values_list("pk", "payload")[:BATCH_SIZE]
        )
        if not batch:
            break
        results = [process_receipt(inbox, pk, payload) for pk, payload in batch]
        counts.update(results)
        if all(result == "skipped" for result in results):
            break  # other workers hold all of them
    else:
        with transaction.atomic():
            enqueue_processing([inbox_id])
    return dict(counts)


@task()
def process_receipts(inbox_id: int) -> dict[str, int]:
    return process_pending(inbox_id)


def enqueue_processing(inbox_ids: Iterable[int], *, after_commit: list[int] | None = None) -> None:
    """Make sure a `process_receipts` task will run for each inbox. Call inside the receipts' transaction.

    A burst of webhooks becomes a few tasks instead of one per request (omo/core/waiting.py)."""
    waiting.ensure(process_receipts, inbox_ids, after_commit=after_commit)


def start_processing(inbox_ids: Iterable[int]) -> None:
    """Enqueue processing for inboxes whose receipts are committed (backends other than the database queue)."""
    waiting.start(process_receipts, inbox_ids)


def requeue_failed(inbox_id: int) -> int:
    """Put failed receipts back to pending (after a fix) and schedule their processing."""
    with transaction.atomic():
        count = WebhookReceipt.objects.filter(inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED).update(
            status=WebhookReceipt.Status.PENDING, error="", processed_at=None
        )
        if count:
            enqueue_processing([inbox_id])
    return count


@task()
def fetch_message_content(message_id: int) -> dict[str, Any]:
    """Fetch media that was not ready (LINE 202 / transcoding) or failed when the message arrived."""
    from omo.inbox import ingest
    from omo.platforms.line.inbound import attachment_name

    message = Message.objects.select_related("conversation__inbox").filter(pk=message_id).first()
    if message is None or message.attachment or not message.external_id:
        return {"message_id": message_id, "stored": False}
    inbox = message.conversation.inbox
    adapter = get_adapter(inbox)
    tries = int((message.payload or {}).get("content_tries", 0)) + 1
    try:
        content = adapter.fetch_content(message.external_id)
    except Exception as exc:
        logger.info("content of message %s not fetched: %s", message_id, exc)
        content = None if tries >= CONTENT_RETRIES else False
    if content and not content.ready:
        content = False
    if content:
        file_name = message.text if message.kind == Message.Kind.FILE else ""
        name = attachment_name(inbox, message.external_id, content.content_type, file_name)
        ingest.attach_content(message, name=name, data=content.data)
        return {"message_id": message_id, "stored": True}
    Message.objects.filter(pk=message_id).update(payload={**(message.payload or {}), "content_tries": tries})
    if content is False and tries < CONTENT_RETRIES and fetch_message_content.get_backend().supports_defer:
        run_after = timezone.now() + dt.timedelta(seconds=5 * 2**tries)
        fetch_message_content.using(run_after=run_after).enqueue(message_id)
    return {"message_id": message_id, "stored": False, "tries": tries}
