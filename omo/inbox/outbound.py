"""Sending to customers: queue a Message now, deliver it in a task through the platform adapter.

    from omo.inbox.outbound import queue_message
    queue_message(conversation, kind="text", text="您好！", sender=request.user)
    queue_message(conversation, kind="flex", payload={"cards": [...], "alt_text": "…"}, sender=clerk)

`queue_message` stores the Message as "queued" with its idempotency key (`retry_key`) *before*
anything is sent, publishes `message.created`, and enqueues `deliver_message` after commit.
`deliver_message` asks the inbox's adapter to deliver it under the platform's sending policy
(LINE: free reply token when fresh, else push with X-Line-Retry-Key; see
omo/platforms/line/sending.py) and records the outcome: sent (with via and the platform's id),
failed (with a reason people can read, zh-Hant / English), or rescheduled for later (429, outages).

Never twice: only a queued message is delivered; a short lease keeps two workers off the same
message; the reply token is taken by a conditional UPDATE; pushes reuse the stored retry key.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from omo.core import events
from omo.inbox.models import Conversation, Message
from omo.platforms import get_adapter
from omo.platforms.base import DeliveryOutcome, DeliveryState

logger = logging.getLogger(__name__)

OUTBOUND_KINDS = frozenset(
    {
        Message.Kind.TEXT,
        Message.Kind.FLEX,
        Message.Kind.IMAGE,
        Message.Kind.VIDEO,
        Message.Kind.AUDIO,
        Message.Kind.STICKER,
        Message.Kind.LOCATION,
    }
)
MAX_TEXT = 5000
LEASE_SECONDS = 120  # longer than one delivery run (a few attempts with short backoff)


class OutboundError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _preview(kind: str, text: str) -> str:
    from omo.inbox.ingest import PREVIEW_BY_KIND

    return (text or PREVIEW_BY_KIND.get(kind, ""))[:200]


def queue_message(
    conversation: Conversation,
    *,
    kind: str,
    text: str = "",
    payload: dict[str, Any] | None = None,
    sender: Any = None,
) -> Message:
    """Queue a message to the conversation's customer; it is delivered by `deliver_message` after commit."""
    if kind not in OUTBOUND_KINDS:
        raise OutboundError("kind", f"cannot send a {kind!r} message")
    if kind == Message.Kind.TEXT and not (text or "").strip():
        raise OutboundError("text", "a text message needs text")
    if len(text or "") > MAX_TEXT:
        raise OutboundError("text", f"at most {MAX_TEXT} characters")
    if kind == Message.Kind.FLEX and not (payload or {}).get("cards") and not (payload or {}).get("line"):
        raise OutboundError("payload", "a card message needs payload['cards']")
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            brand_id=conversation.brand_id,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            kind=kind,
            text=text or "",
            payload=payload or {},
            status=Message.Status.QUEUED,
            sender=sender,
            retry_key=uuid.uuid4(),
        )
        changes: dict[str, Any] = {"last_message_at": now, "last_message_preview": _preview(kind, text)}
        if sender is not None:
            # A person answered: the customer is no longer waiting (routing refines SLA handling).
            changes.update(waiting_since=None, sla_due_at=None)
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        events.publish(
            "message.created",
            brand_id=conversation.brand_id,
            conversation_id=conversation.pk,
            message_id=message.pk,
            direction=Message.Direction.OUTBOUND,
        )
        transaction.on_commit(lambda: deliver_message.enqueue(message.pk))
    return message


def retry_message(message: Message) -> Message:
    """Queue a failed message again (the clerk's "retry"). Same retry key: a push LINE already took is not repeated."""
    if message.status != Message.Status.FAILED or message.direction != Message.Direction.OUTBOUND:
        raise OutboundError("status", "only a failed outgoing message can be retried")
    via = Message.SentVia.PUSH if message.sent_via else ""  # a reply token is single use: retries push
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.FAILED).update(
            status=Message.Status.QUEUED,
            failure_reason="",
            sent_via=via,
            attempts=0,
        )
        if updated:
            transaction.on_commit(lambda: deliver_message.enqueue(message.pk))
    message.refresh_from_db()
    return message


def deliver(message_id: int) -> dict[str, Any]:
    """Deliver one queued message now (the task body). Returns what happened, for logs and tests."""
    message = (
        Message.objects.select_related("conversation__inbox", "conversation__contact")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or message.status != Message.Status.QUEUED:
        return {
            "message_id": message_id,
            "state": DeliveryState.SKIPPED,
            "status": getattr(message, "status", None),
        }
    lease_key, holder = f"omo:deliver:{message_id}", uuid.uuid4().hex
    if not cache.add(lease_key, holder, LEASE_SECONDS):
        return {"message_id": message_id, "state": DeliveryState.SKIPPED, "status": message.status}
    try:
        outcome = get_adapter(message.conversation.inbox).deliver(message)
        apply_outcome(message, outcome)
    finally:
        if cache.get(lease_key) == holder:
            cache.delete(lease_key)
    message.refresh_from_db()
    return {
        "message_id": message_id,
        "state": outcome.state,
        "status": message.status,
        "via": message.sent_via,
        "reason": message.failure_reason,
    }


def apply_outcome(message: Message, outcome: DeliveryOutcome) -> None:
    queued = Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED)
    if outcome.state is DeliveryState.SENT:
        changes: dict[str, Any] = {
            "status": Message.Status.SENT,
            "sent_at": timezone.now(),
            "sent_via": outcome.via,
            "failure_reason": "",
        }
        try:
            with transaction.atomic():
                queued.update(**changes, external_id=outcome.external_id or None)
        except IntegrityError:  # the platform id is already on another row: keep the send, drop the id
            queued.update(**changes)
    elif outcome.state is DeliveryState.FAILED:
        changes = {"status": Message.Status.FAILED, "failure_reason": outcome.reason[:300]}
        if outcome.via:
            changes["sent_via"] = outcome.via
        queued.update(**changes)
        logger.warning("message %s failed: %s", message.pk, outcome.reason)
    elif outcome.state is DeliveryState.RETRY_LATER:
        schedule_retry(message.pk, seconds=outcome.retry_after or 5.0)


def schedule_retry(message_id: int, *, seconds: float) -> None:
    """Deliver again later (429, outage). Backends without deferred tasks leave it queued for the sweep."""
    backend = deliver_message.get_backend()
    if not backend.supports_defer:
        logger.warning("task backend cannot defer: message %s stays queued", message_id)
        return
    run_after = timezone.now() + dt.timedelta(seconds=seconds)
    transaction.on_commit(lambda: deliver_message.using(run_after=run_after).enqueue(message_id))


@task()
def deliver_message(message_id: int) -> dict[str, Any]:
    return deliver(message_id)
