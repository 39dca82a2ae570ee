"""LINE's sending policy for one queued omo Message: free reply when we can, billed push otherwise.

1. Reply token: used when the conversation holds one that is fresh (< LINE_LIMITS.reply_token_life
   since the event) and unused. It is taken with a conditional UPDATE, so exactly one message ever
   uses it. Message.sent_via is set to "reply" *before* the call.
   - 400 "Invalid reply token" (expired / used elsewhere) → push instead.
   - 5xx / time-out on a reply is ambiguous: LINE may have delivered it and a reply has no
     idempotency key. We retry the reply; if LINE then calls the token invalid we cannot tell
     "used by our first attempt" from "expired", so we fail the message as "uncertain" rather
     than risk a duplicate push (the clerk sees it and can resend).
2. Push: Message.retry_key (stored when the message was queued, before any attempt) goes in
   X-Line-Retry-Key on every attempt, so retries are safe; 409 = LINE already accepted = sent.
   Message.sent_via is set to "push" before the first push.
3. 5xx and time-outs: a few attempts with exponential backoff and jitter in this run, then
   the message is rescheduled (same retry key) until OMO_LINE_MAX_SEND_ATTEMPTS attempts or 23 h
   (LINE keeps retry keys 24 h). Other 4xx: never retried, failed with LINE's reason.
4. 429: a rate limit → rescheduled with backoff; the monthly quota ("You have reached your monthly
   limit.") → Inbox.quota_exhausted_at is set and the message fails with a reason people can read.
5. Every attempt first takes a token from the inbox's bucket (omo.platforms.ratelimit).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from omo.inbox import attempts
from omo.inbox.models import Conversation, Message
from omo.platforms import ratelimit
from omo.platforms.base import (
    DeliveryOutcome,
    DeliveryState,
    OutboundRequest,
    SendResult,
    SendStatus,
    failure_reason,
)

if TYPE_CHECKING:
    from omo.platforms.line.adapter import LineAdapter

logger = logging.getLogger(__name__)

RETRY_KEY_LIFE = dt.timedelta(hours=23)  # LINE keeps a retry key 24 h; after that a retry may duplicate


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


@dataclass
class _Attempts:
    result: SendResult
    ambiguous: bool  # some attempt ended without a definite answer (5xx, time-out)


def take_reply_token(conversation: Conversation, life: dt.timedelta) -> str | None:
    """The conversation's reply token if fresh and unused, consumed so no one else can use it."""
    return attempts.take_reply_token(conversation.pk, life=life)


def _attempt(adapter: LineAdapter, message: Message, request: OutboundRequest) -> _Attempts:
    tries = max(1, int(_setting("OMO_LINE_SEND_TRIES", 3)))
    backoff = _setting("OMO_LINE_BACKOFF_SECONDS", 0.5)
    limit = adapter.limits.rate_limits[str(request.endpoint)]
    ambiguous = False
    result = SendResult(SendStatus.TRANSIENT, request.endpoint)
    for attempt in range(1, tries + 1):
        wait = ratelimit.acquire(message.conversation.inbox_id, str(request.endpoint), limit, max_wait=1.0)
        if wait > 1.0:  # the bucket is far behind: do not hold a worker, try again later
            return _Attempts(
                SendResult(SendStatus.RATE_LIMITED, request.endpoint, error="local rate limit"), ambiguous
            )
        if wait > 0:
            time.sleep(wait)
        attempts.count_attempt(message.pk)
        result = adapter.send(request)
        if result.status is not SendStatus.TRANSIENT:
            return _Attempts(result, ambiguous)
        ambiguous = True
        logger.info(
            "LINE %s for message %s: attempt %d failed: %s",
            request.endpoint,
            message.pk,
            attempt,
            result.error,
        )
        if attempt < tries:
            time.sleep(backoff * 2 ** (attempt - 1) * (0.75 + random.random() / 2))  # noqa: S311 - jitter
    return _Attempts(result, ambiguous)


def _later(message: Message, code: str) -> DeliveryOutcome:
    """Reschedule, or give up when the message has been tried long enough."""
    tried = attempts.attempts_of(message.pk)
    max_attempts = int(_setting("OMO_LINE_MAX_SEND_ATTEMPTS", 12))
    too_old = message.created_at and timezone.now() - message.created_at > RETRY_KEY_LIFE
    if tried >= max_attempts or too_old:
        return DeliveryOutcome(DeliveryState.FAILED, via="push", reason=failure_reason(code))
    delay = min(300.0, _setting("OMO_LINE_RETRY_LATER_SECONDS", 2.0) * 2 ** min(tried, 8))
    return DeliveryOutcome(DeliveryState.RETRY_LATER, via="push", retry_after=delay)


def deliver(adapter: LineAdapter, message: Message) -> DeliveryOutcome:
    conversation = message.conversation
    contact = conversation.contact
    inbox = conversation.inbox
    if not inbox.is_active:
        return DeliveryOutcome(DeliveryState.FAILED, reason=failure_reason("inactive_inbox"))
    if not contact.external_user_id:
        return DeliveryOutcome(DeliveryState.FAILED, reason=failure_reason("no_recipient"))
    if contact.blocked_at is not None:
        # LINE answers 200 to a push to someone who blocked us but delivers nothing.
        return DeliveryOutcome(DeliveryState.FAILED, reason=failure_reason("unreachable"))
    try:
        messages = adapter.render(message)
    except (ValueError, KeyError, TypeError) as exc:
        return DeliveryOutcome(DeliveryState.FAILED, reason=failure_reason("unsupported", str(exc)))

    if message.sent_via == Message.SentVia.REPLY:
        # An earlier run took the reply token and stopped before recording the answer.
        return DeliveryOutcome(DeliveryState.FAILED, via="reply", reason=failure_reason("uncertain"))

    if message.sent_via != Message.SentVia.PUSH and adapter.limits.reply_token_life is not None:
        token = take_reply_token(conversation, adapter.limits.reply_token_life)
        if token:
            attempts.set_sent_via(message.pk, Message.SentVia.REPLY)
            tried = _attempt(adapter, message, OutboundRequest(messages=messages, reply_token=token))
            result = tried.result
            if result.ok:
                return DeliveryOutcome(DeliveryState.SENT, via="reply", external_id=_first(result))
            if result.status is SendStatus.INVALID_REPLY_TOKEN and not tried.ambiguous:
                logger.info("reply token of conversation %s was no longer valid: pushing", conversation.pk)
            elif result.status in (SendStatus.TRANSIENT, SendStatus.INVALID_REPLY_TOKEN):
                return DeliveryOutcome(DeliveryState.FAILED, via="reply", reason=failure_reason("uncertain"))
            elif result.status is SendStatus.REJECTED:
                return DeliveryOutcome(
                    DeliveryState.FAILED,
                    via="reply",
                    reason=failure_reason("rejected", f"{result.http_status} {result.error}"),
                )
            # rate limited on reply: LINE did not take it; the token will be stale by then → push later
            attempts.set_sent_via(message.pk, Message.SentVia.PUSH)
            if result.status is SendStatus.RATE_LIMITED:
                return _later(message, "rate_limited")

    attempts.set_sent_via(message.pk, Message.SentVia.PUSH)
    request = OutboundRequest(
        messages=messages, to=contact.external_user_id, retry_key=str(message.retry_key)
    )
    tried = _attempt(adapter, message, request)
    result = tried.result
    if result.ok:
        if inbox.quota_exhausted_at is not None:
            attempts.set_quota_exhausted(inbox.pk, None)
        return DeliveryOutcome(DeliveryState.SENT, via="push", external_id=_first(result))
    if result.status is SendStatus.QUOTA_EXHAUSTED:
        attempts.set_quota_exhausted(inbox.pk, timezone.now())
        return DeliveryOutcome(DeliveryState.FAILED, via="push", reason=failure_reason("quota_exhausted"))
    if result.status is SendStatus.RATE_LIMITED:
        return _later(message, "rate_limited")
    if result.status is SendStatus.TRANSIENT:
        return _later(message, "gave_up")
    return DeliveryOutcome(
        DeliveryState.FAILED,
        via="push",
        reason=failure_reason("rejected", f"{result.http_status} {result.error}"),
    )


def _first(result: SendResult) -> str | None:
    return result.message_ids[0] if result.message_ids else None


def multicast(
    adapter: LineAdapter, inbox_id: int, user_ids: list[str], messages: list[dict], *, retry_key: str
) -> list[SendResult]:
    """Send the same messages to many users (campaigns), 500 per request, within the 200/s bucket.

    Each chunk's X-Line-Retry-Key is derived from `retry_key` and the chunk's position, so calling
    this again with the same arguments (a retried campaign task) never sends a chunk twice: chunks
    LINE already took answer 409, counted as sent.
    """
    import uuid

    size = adapter.limits.max_recipients_per_multicast
    limit = adapter.limits.rate_limits["multicast"]
    tries = max(1, int(_setting("OMO_LINE_SEND_TRIES", 3)))
    backoff = _setting("OMO_LINE_BACKOFF_SECONDS", 0.5)
    results = []
    for index in range(0, len(user_ids), size):
        key = str(uuid.uuid5(uuid.UUID(retry_key), str(index // size)))
        request = OutboundRequest(messages=messages, to=user_ids[index : index + size], retry_key=key)
        for attempt in range(1, tries + 1):
            time.sleep(ratelimit.acquire(inbox_id, "multicast", limit, max_wait=60.0))
            result = adapter.send(request)
            if result.status is not SendStatus.TRANSIENT or attempt == tries:
                break
            time.sleep(backoff * 2 ** (attempt - 1))
        results.append(result)
    return results
