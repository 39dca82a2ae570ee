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

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from omo.core import waiting
from omo.core.edge import check_depth, parse_webhook_json
from omo.inbox import ingest, receipts, selectors
from omo.inbox.models import Inbox, Message, WebhookReceipt
from omo.platforms import get_adapter
from omo.platforms.base import Content, ReceiptRow

logger = logging.getLogger(__name__)

# Inbox.platform → module with `prepare(inbox, adapter, event)`, `apply(inbox, event, prepared)`, `Prepared`.
INBOUND_MODULES: dict[str, str] = {"line": "omo.platforms.line.inbound"}
BATCH_SIZE = 200
INTAKE_CHUNK = receipts.INTAKE_CHUNK  # requests split into receipts per transaction
MAX_BATCHES = 25
CONTENT_RETRIES = 6


def _inbound_module(platform: str) -> Any:
    return importlib.import_module(INBOUND_MODULES[platform])


def process_receipt(inbox: Inbox, receipt_id: int, payload: dict[str, Any]) -> str:
    """Process one pending receipt; returns its new status, or "skipped" when another worker has it.

    Whatever goes wrong with this one receipt (its parsing included) marks it failed with the
    reason, a sentence shown on the account's page where people retry or discard it, followed by
    the traceback; it never stops the receipts behind it."""
    try:
        adapter = get_adapter(inbox)
        module = _inbound_module(inbox.platform)
        event = adapter.parse_event(payload)
        try:
            prepared = module.prepare(inbox, adapter, event)
        except Exception as exc:  # network trouble must not lose the event: record it without extras
            logger.exception("preparing receipt %s failed", receipt_id)
            prepared = module.Prepared(notes=[f"not prepared: {exc}"[:200]])
        with transaction.atomic():
            receipt = receipts.claim_pending(receipt_id)
            if receipt is None:
                return "skipped"
            outcome = module.apply(inbox, event, prepared)
            receipts.record_outcome(receipt, status=outcome.status, note=outcome.note)
            return outcome.status
    except Exception as exc:
        logger.exception("processing receipt %s failed", receipt_id)
        reason = receipts.failure_reason(exc)
        receipts.mark_failed(receipt_id, error=f"{reason}\n\n{traceback.format_exc()}")
        return WebhookReceipt.Status.FAILED


def expand_intakes(inbox: Inbox, *, chunk: int = INTAKE_CHUNK) -> int:
    """Split the requests the edge stored whole into receipts, one per event, with the inbox's
    platform parser (omo.inbox.receipts.expand_intakes). Returns the requests expanded."""
    adapter = get_adapter(inbox)

    def split(body: bytes) -> list[ReceiptRow]:
        document = parse_webhook_json(body)
        check_depth(document)  # off the hot path here: refuse what could not be stored
        return adapter.receipt_rows(document)

    return receipts.expand_intakes(inbox, split, chunk=chunk)


def process_pending(inbox_id: int, *, max_batches: int = MAX_BATCHES) -> dict[str, int]:
    """Process the inbox's pending receipts, oldest event first, until none is left.

    Requests the edge stored whole are split into receipts first. After `max_batches` batches the
    rest goes to a new task, so one busy inbox cannot hold a worker while other inboxes wait."""
    counts: Counter[str] = Counter()
    # Whether the edge stored whole requests comes with the inbox: no extra round trip when not.
    found = selectors.inbox_to_process(inbox_id)
    if found is None:
        return dict(counts)
    inbox, has_intakes = found
    if has_intakes:
        expand_intakes(inbox)
    for _ in range(max_batches):
        batch = selectors.pending_receipts(inbox_id, limit=BATCH_SIZE)
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
        count = receipts.requeue_failed(inbox_id)
        if count:
            enqueue_processing([inbox_id])
    return count


@task()
def fetch_message_content(message_id: int) -> dict[str, Any]:
    """Fetch media that was not ready (LINE 202 / transcoding) or failed when the message arrived."""
    # function-level: the LINE SDK loads where events are processed, never in the webhook edge.
    from omo.platforms.line.inbound import attachment_name

    message = selectors.message_with_inbox(message_id)
    if message is None or message.attachment or not message.external_id:
        return {"message_id": message_id, "stored": False}
    inbox = message.conversation.inbox
    adapter = get_adapter(inbox)
    tries = int((message.payload or {}).get("content_tries", 0)) + 1
    content: Content | None = None
    again = False  # not ready yet, or the fetch failed: worth another try
    try:
        content = adapter.fetch_content(message.external_id)
    except Exception as exc:
        logger.info("content of message %s not fetched: %s", message_id, exc)
        again = True
    if content is not None and not content.ready:
        content, again = None, True
    if content is not None:
        file_name = message.text if message.kind == Message.Kind.FILE else ""
        name = attachment_name(inbox, message.external_id, content.content_type, file_name)
        ingest.attach_content(message, name=name, data=content.data)
        return {"message_id": message_id, "stored": True}
    ingest.record_content_tries(message, tries)
    if again and tries < CONTENT_RETRIES and fetch_message_content.get_backend().supports_defer:
        run_after = timezone.now() + dt.timedelta(seconds=5 * 2**tries)
        fetch_message_content.using(run_after=run_after).enqueue(message_id)
    return {"message_id": message_id, "stored": False, "tries": tries}
