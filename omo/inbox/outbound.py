"""Sending to customers: queue a Message now, deliver it in a task through the platform adapter.

    from omo.inbox.outbound import queue_message
    queue_message(conversation, kind="text", text="您好！", sender=request.user)
    queue_message(conversation, kind="flex", payload={"cards": [...], "alt_text": "…"}, sender=clerk)

`queue_message` stores the Message as "queued" with its idempotency key (`retry_key`) *before*
anything is sent, publishes `message.created`, and enqueues `deliver_message` after commit.
`deliver_message` asks the inbox's sender (its platform adapter, registered in
omo/inbox/delivery.py) to deliver it under the platform's sending policy
(LINE: free reply token when fresh, else push with X-Line-Retry-Key; see
omo/platforms/line/sending.py) and records the outcome: sent (with via and the platform's id),
failed (with a reason people can read, zh-Hant / English), or rescheduled for later (429, outages).

Never twice: only a queued message is delivered; a short lease keeps two workers off the same
message; the reply token is taken by a conditional UPDATE; pushes reuse the stored retry key.

Every change of an outgoing message's status (queued → sent, queued → failed, failed → queued)
publishes `message.updated` after commit, which omo/inbox/realtime.py pushes to the screens that
show the conversation.

`sweep_stuck_messages` (every minute, registered in omo.core.schedule) picks up messages left "queued" by a
lost task or a worker that died mid-send: it enqueues them again with the same retry key, by push
(their reply token is long gone), and fails them once they have been tried enough.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django_tasks import task

from omo.core import events
from omo.core.errors import FieldError
from omo.customers.consent import ConsentError, may_message
from omo.inbox.delivery import DeliveryOutcome, DeliveryState, sender_for
from omo.inbox.models import Conversation, Message, Platform

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
STUCK_AFTER = dt.timedelta(seconds=LEASE_SECONDS)  # queued this long with no task at work on it: stuck
SWEEP_BATCH = 200
# LINE keeps an X-Line-Retry-Key 24 h; after that the same key may send twice, so we stop earlier.
MAX_QUEUED_AGE = dt.timedelta(hours=23)
STUCK_REASONS: dict[str, tuple[str, str]] = {
    "gave_up": (
        "多次重新傳送仍未送出，已停止重試。可按「重試」再送一次。",
        "Still not sent after {attempts} attempts; stopped trying. Tap Retry to send it again.",
    ),
    "too_old": (
        "超過 23 小時仍未送出，為避免重複傳送已停止。",
        "Not sent within 23 hours; stopped to avoid sending it twice.",
    ),
}


# Messenger, Instagram and WhatsApp take a free-form message only within 24 hours of the customer's
# last message (Meta's messaging-window rules). Past it Messenger and Instagram need a message
# tag (HUMAN_AGENT, 7 days, with Meta's permission) and WhatsApp a pre-approved template: neither is
# something omo sends yet, so such a message is refused before it is stored. LINE has no window.
WINDOWED_PLATFORMS = frozenset({Platform.MESSENGER, Platform.INSTAGRAM, Platform.WHATSAPP})
REPLY_WINDOW = dt.timedelta(hours=24)


class OutboundError(FieldError, ValueError):
    pass


def window_closed(conversation: Conversation, now: dt.datetime) -> bool:
    """True when the platform's 24-hour window since the customer's last message has passed."""
    if conversation.inbox.platform not in WINDOWED_PLATFORMS:
        return False
    last = conversation.contact.last_inbound_at
    return last is None or now - last >= REPLY_WINDOW


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
    purpose: str | None = None,
    idempotency_key: str = "",
) -> Message:
    """Queue a message to the conversation's customer; it is delivered by `deliver_message` after commit.

    `purpose`: None for a reply in the conversation (a person or a bot answering the customer);
    "marketing" or "transactional" for a message the brand starts (campaigns, journeys, order
    notices). Those are refused with OutboundError("purpose", reason) when the customer's consent
    or reachability does not allow them (omo.customers.consent.may_message).

    On Messenger, Instagram and WhatsApp, a message 24 hours or more after the customer's last one
    is refused (409 `outside_window`). `idempotency_key` is stored on the message; a second message
    with the same key in the conversation breaks a unique constraint (IntegrityError).
    """
    if purpose is not None:
        try:
            allowed, why = may_message(conversation.customer, conversation.inbox.platform, purpose)
        except ConsentError as exc:
            raise OutboundError("purpose", exc.message) from exc
        if not allowed:
            raise OutboundError("purpose", why)
    if kind not in OUTBOUND_KINDS:
        raise OutboundError("kind", f"cannot send a {kind!r} message")
    if kind == Message.Kind.TEXT and not (text or "").strip():
        raise OutboundError("text", "a text message needs text")
    if len(text or "") > MAX_TEXT:
        raise OutboundError("text", f"at most {MAX_TEXT} characters")
    if kind == Message.Kind.FLEX and not (payload or {}).get("cards") and not (payload or {}).get("line"):
        raise OutboundError("payload", "a card message needs payload['cards']")
    now = timezone.now()
    if window_closed(conversation, now):
        platform = conversation.inbox.get_platform_display()
        raise OutboundError(
            "conversation",
            gettext("顧客最後一則訊息已超過 24 小時，%(platform)s 不允許再傳送一般訊息。")
            % {"platform": platform},
            status=409,
            code="outside_window",
        )
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
            store_id=getattr(sender, "store_id", None) if sender is not None else conversation.store_id,
            retry_key=uuid.uuid4(),
            idempotency_key=idempotency_key,
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


def max_attempts() -> int:
    """Attempts (sends tried plus recoveries by the sweep) after which a message is given up."""
    return int(getattr(settings, "OMO_LINE_MAX_SEND_ATTEMPTS", 12))


def status_changed(message: Message, status: str) -> None:
    """Publish message.updated (after commit) for a status change a conditional UPDATE just made."""
    events.publish(
        "message.updated",
        brand_id=message.brand_id,
        conversation_id=message.conversation_id,
        message_id=message.pk,
        status=status,
    )


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
            status_changed(message, Message.Status.QUEUED)
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
        outcome = sender_for(message.conversation.inbox).deliver(message)
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
                changed = queued.update(**changes, external_id=outcome.external_id or None)
        except IntegrityError:  # the platform id is already on another row: keep the send, drop the id
            changed = queued.update(**changes)
        if changed:
            status_changed(message, Message.Status.SENT)
    elif outcome.state is DeliveryState.FAILED:
        changes = {"status": Message.Status.FAILED, "failure_reason": outcome.reason[:300]}
        if outcome.via:
            changes["sent_via"] = outcome.via
        if queued.update(**changes):
            status_changed(message, Message.Status.FAILED)
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


def _stuck_reason(code: str, **values: Any) -> str:
    zh, en = STUCK_REASONS[code]
    return f"{zh} / {en.format(**values)}"[:300]


def _task_database_backend() -> bool:
    try:
        from django_tasks_db.backend import DatabaseBackend
    except ImportError:  # pragma: no cover - the database backend is a dependency
        return False
    return isinstance(deliver_message.get_backend(), DatabaseBackend)


def _deliveries_in_hand(message_ids: list[int], *, now: dt.datetime, stale_after: dt.timedelta) -> set[int]:
    """Messages a deliver_message task still holds: waiting, deferred (429 backoff) or running lately.

    Only the database task backend can tell; with another backend every old queued message counts
    as stuck, which is safe (same retry key, and the delivery lease) but may retry early.
    """
    if not message_ids or not _task_database_backend():
        return set()
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(
            task_path=deliver_message.module_path, args_kwargs__args__0__in=message_ids
        )
        .filter(
            Q(status=TaskResultStatus.READY)
            # a task RUNNING for longer than a delivery run takes belongs to a worker that died
            | Q(status=TaskResultStatus.RUNNING, started_at__gt=now - stale_after)
        )
        .values_list("args_kwargs", flat=True)
    )
    return {row["args"][0] for row in rows}


def sweep_stuck_messages(
    *, now: dt.datetime | None = None, stuck_after: dt.timedelta = STUCK_AFTER, limit: int = SWEEP_BATCH
) -> dict[str, list[int]]:
    """Enqueue again what stayed queued with no task at work on it; fail what was tried enough.

    Safe on several workers at once: each sweep locks the rows it looks at (SKIP LOCKED on
    PostgreSQL; SQLite has a single writer) and claims each message with a conditional UPDATE of
    its attempts; the new task is inserted in the same transaction (database task backend), so the
    next sweep sees it and leaves the message alone.
    """
    now = now or timezone.now()
    cap = max_attempts()
    in_database = _task_database_backend()
    requeued: list[int] = []
    failed: list[int] = []
    with transaction.atomic():
        stuck = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(
                direction=Message.Direction.OUTBOUND,
                status=Message.Status.QUEUED,
                created_at__lte=now - stuck_after,
            )
            .only("id", "brand_id", "conversation_id", "attempts", "sent_via", "created_at")
            .order_by("created_at", "id")[:limit]
        )
        in_hand = _deliveries_in_hand([m.pk for m in stuck], now=now, stale_after=stuck_after)
        for message in stuck:
            if message.pk in in_hand:
                continue
            claim = Message.objects.filter(
                pk=message.pk, status=Message.Status.QUEUED, attempts=message.attempts
            )
            too_old = now - message.created_at > MAX_QUEUED_AGE
            if too_old or message.attempts >= cap:
                reason = (
                    _stuck_reason("too_old")
                    if too_old
                    else _stuck_reason("gave_up", attempts=message.attempts)
                )
                if claim.update(status=Message.Status.FAILED, failure_reason=reason):
                    status_changed(message, Message.Status.FAILED)
                    failed.append(message.pk)
                    logger.warning("message %s stuck in queued: given up (%s)", message.pk, reason)
                continue
            # By push: a reply token is single use and about a minute long, so it is gone by now (or
            # belongs to a newer customer message). A message that had taken one keeps "reply" and
            # the sending policy fails it as uncertain rather than risk a duplicate.
            changes: dict[str, Any] = {"attempts": F("attempts") + 1}
            if not message.sent_via:
                changes["sent_via"] = Message.SentVia.PUSH
            if not claim.update(**changes):
                continue
            if in_database:  # the task row commits with the claim: no window for a second sweep
                deliver_message.enqueue(message.pk)
            else:
                transaction.on_commit(functools.partial(deliver_message.enqueue, message.pk))
            requeued.append(message.pk)
            logger.warning("message %s stuck in queued: enqueued again", message.pk)
    return {"requeued": requeued, "failed": failed}


@task()
def deliver_message(message_id: int) -> dict[str, Any]:
    return deliver(message_id)
