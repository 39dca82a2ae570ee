"""Sending webhook deliveries: one signed POST per attempt, retries with backoff, the sweep.

An attempt claims the delivery (pending → sending, a conditional UPDATE, so two tasks never send
the same attempt), POSTs the stored body with fresh signature headers, and records the outcome:

- 2xx: delivered.
- network error, timeout, 408, 409, 429 or 5xx: tried again later, after RETRY_DELAYS (±20 %
  jitter; a longer Retry-After is respected), through a deferred django-tasks task; after
  MAX_ATTEMPTS attempts (about a day) it is failed.
- any other answer (other 4xx, redirects: they are not followed): failed at once, not retried.
- 410 Gone also pauses the endpoint: the receiver says it is gone for good.

Every failed attempt counts towards the endpoint's consecutive failures; at PAUSE_AFTER_FAILURES
the endpoint is paused with a reason people can read, and its pending deliveries are held.

`sweep` (every minute, registered in omo.core.schedule) finds deliveries whose task was lost (still pending
well after their time) or whose worker died mid-send, and enqueues them again; deliveries pending
for longer than MAX_AGE are failed.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from omo.outgoing_webhooks import signing
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

# Seconds to wait after failed attempt n (n = 1…7); attempt 8 is the last: about 23 hours in all.
RETRY_DELAYS: tuple[int, ...] = (30, 120, 600, 1800, 7200, 21600, 50400)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
MAX_RETRY_AFTER = 24 * 3600
RETRY_STATUSES = frozenset({408, 409, 429})
PAUSE_AFTER_FAILURES = 40  # consecutive failed attempts (e.g. five events each failing all eight tries)
DEFAULT_TIMEOUT = 5.0
EXCERPT = 500
HISTORY = 20
LOST_AFTER = dt.timedelta(minutes=2)  # pending this long after its time: its task is lost
MAX_AGE = dt.timedelta(days=3)  # held (paused endpoint) or stuck longer than this: failed
SWEEP_BATCH = 500
USER_AGENT = "omo-webhooks/1"

ERRORS: dict[str, tuple[str, str]] = {
    "timeout": ("逾時未回應", "timed out after {seconds:g} s"),
    "connect": ("無法連線", "could not connect: {detail}"),
    "network": ("網路錯誤", "network error: {detail}"),
    "status": ("對方回應 HTTP {status}", "the receiver answered HTTP {status}"),
    "gone": ("對方回應 410 Gone，端點已自動暫停", "the receiver answered 410 Gone; endpoint paused"),
    "redirect": ("對方要求轉址（HTTP {status}），不會跟隨轉址", "redirect (HTTP {status}) not followed"),
    "address": ("網址解析到內部網路位址，已拒絕傳送", "the URL resolves to a private address: not sent"),
    "lost": ("傳送途中工作程序中止", "the worker stopped while sending"),
    "too_old": ("超過 3 天仍未送出，已停止", "not sent within 3 days; stopped"),
}
PAUSE_REASON = (
    "連續 {count} 次傳送失敗，已自動暫停。修正接收端後請按「恢復」。",
    "Paused after {count} failed attempts in a row. Fix the receiver, then resume.",
)


def error_text(code: str, **values: Any) -> str:
    zh, en = ERRORS[code]
    return f"{zh.format(**values)} / {en.format(**values)}"[:300]


def timeout_seconds() -> float:
    return float(getattr(settings, "OMO_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))


_pool = urllib3.PoolManager(num_pools=50, maxsize=4, retries=False, headers={"User-Agent": USER_AGENT})


@dataclass(frozen=True)
class Attempt:
    status: int | None = None  # the HTTP status, when the receiver answered
    excerpt: str = ""
    error: str = ""
    retryable: bool = False
    gone: bool = False
    retry_after: float | None = None
    duration_ms: int = 0

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def retry_delay(
    attempts: int, retry_after: float | None = None, *, rng: random.Random | None = None
) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _resolves_to_private(url: str) -> bool:
    from omo.outgoing_webhooks.services import address_is_public, allow_local

    if allow_local():
        return False
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        return False  # let the request itself report the DNS failure (and retry)
    return any(not address_is_public(str(info[4][0])) for info in infos)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Attempt:
    """One POST; never raises for network trouble (it becomes a retryable Attempt)."""
    if _resolves_to_private(url):
        return Attempt(error=error_text("address"))
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        response = _pool.request(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False,
            preload_content=False,
        )
        try:
            excerpt = response.read(EXCERPT, decode_content=True) or b""
        finally:
            response.release_conn()
    except urllib3.exceptions.NewConnectionError as exc:  # before TimeoutError: urllib3 subclasses it
        return Attempt(
            error=error_text("connect", detail=str(exc.__cause__ or exc)[:150]),
            retryable=True,
            duration_ms=took(),
        )
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        return Attempt(error=error_text("timeout", seconds=timeout), retryable=True, duration_ms=took())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if "timed out" in str(exc).lower():
            return Attempt(error=error_text("timeout", seconds=timeout), retryable=True, duration_ms=took())
        return Attempt(error=error_text("network", detail=str(exc)[:150]), retryable=True, duration_ms=took())
    status = response.status
    text = excerpt.decode("utf-8", errors="replace")[:EXCERPT]
    if 200 <= status < 300:
        return Attempt(status=status, excerpt=text, duration_ms=took())
    if status == 410:
        return Attempt(status=status, excerpt=text, error=error_text("gone"), gone=True, duration_ms=took())
    if 300 <= status < 400:
        return Attempt(
            status=status, excerpt=text, error=error_text("redirect", status=status), duration_ms=took()
        )
    return Attempt(
        status=status,
        excerpt=text,
        error=error_text("status", status=status),
        retryable=status >= 500 or status in RETRY_STATUSES,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        duration_ms=took(),
    )


# --- scheduling ---------------------------------------------------------------------------------------------


def enqueue(delivery_id: int, *, at: dt.datetime | None = None, force: bool = False) -> None:
    """Send this delivery after the current transaction commits, at `at` (deferred) or now.

    A backend that cannot defer leaves a later attempt to the sweep, which enqueues it when due.
    """
    from omo.outgoing_webhooks.tasks import deliver_webhook

    def go() -> None:
        if at is not None and at > timezone.now():
            if not deliver_webhook.get_backend().supports_defer:
                return
            deliver_webhook.using(run_after=at).enqueue(delivery_id, force)
        else:
            deliver_webhook.enqueue(delivery_id, force)

    transaction.on_commit(go)


def _history(row: WebhookDelivery, when: dt.datetime, outcome: Attempt) -> list[dict[str, Any]]:
    entry = {
        "at": when.isoformat(),
        "status": outcome.status,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
    }
    return [*row.history, entry][-HISTORY:]


def attempt(delivery_id: int, *, force: bool = False) -> dict[str, Any]:
    """Try to send one delivery now (the task body). Returns what happened, for logs and tests.

    `force` sends even to a paused endpoint (test events, a redelivery asked for by a person).
    """
    now = timezone.now()
    row = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if row is None or row.status != WebhookDelivery.Status.PENDING:
        return {"delivery_id": delivery_id, "state": "skipped", "status": getattr(row, "status", None)}
    endpoint = row.endpoint
    if not endpoint.is_active and not force:
        return {"delivery_id": delivery_id, "state": "held", "status": row.status}
    claimed = (
        WebhookDelivery.objects.filter(pk=row.pk, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + dt.timedelta(seconds=1)))
        .update(status=WebhookDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:  # another task has it, or a later retry is already scheduled
        return {"delivery_id": delivery_id, "state": "skipped", "status": row.status}
    row.attempts += 1
    body = row.body.encode()
    timestamp = int(time.time())
    from omo.outgoing_webhooks.services import signing_secrets

    headers = {
        "Content-Type": "application/json; charset=utf-8",
        signing.ID_HEADER: row.event_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.signature_header(
            signing_secrets(endpoint), row.event_id, timestamp, body
        ),
        "Omo-Webhook-Topic": row.topic,
        "Omo-Webhook-Attempt": str(row.attempts),
    }
    outcome = post(endpoint.url, body, headers, timeout=timeout_seconds())
    return record(row, claimed_at=now, outcome=outcome)


def record(row: WebhookDelivery, *, claimed_at: dt.datetime, outcome: Attempt) -> dict[str, Any]:
    from omo.outgoing_webhooks.services import auto_pause

    now = timezone.now()
    changes: dict[str, Any] = {
        "claimed_at": None,
        "last_attempt_at": now,
        "response_status": outcome.status,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
        "history": _history(row, now, outcome),
    }
    next_at = None
    if outcome.delivered:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif outcome.retryable and row.attempts < MAX_ATTEMPTS:
        next_at = now + dt.timedelta(seconds=retry_delay(row.attempts, outcome.retry_after))
        changes.update(status=WebhookDelivery.Status.PENDING, next_attempt_at=next_at)
    else:
        changes.update(status=WebhookDelivery.Status.FAILED, failed_at=now, next_attempt_at=None)
    with transaction.atomic():
        mine = WebhookDelivery.objects.filter(
            pk=row.pk, status=WebhookDelivery.Status.SENDING, claimed_at=claimed_at
        ).update(**changes)
        if not mine:  # the sweep took it back meanwhile (this attempt ran far too long)
            logger.warning("webhook delivery %s: outcome of a reclaimed attempt dropped", row.pk)
            return {"delivery_id": row.pk, "state": "reclaimed", "status": None}
        endpoints = WebhookEndpoint.objects.filter(pk=row.endpoint_id)
        if outcome.delivered:
            endpoints.update(consecutive_failures=0, last_success_at=now)
        else:
            endpoints.update(consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now)
            failures = endpoints.values_list("consecutive_failures", flat=True).first() or 0
            if outcome.gone:
                auto_pause(row.endpoint_id, outcome.error)
            elif failures >= pause_after():
                zh, en = PAUSE_REASON
                auto_pause(row.endpoint_id, f"{zh.format(count=failures)} / {en.format(count=failures)}")
        if next_at is not None:
            enqueue(row.pk, at=next_at)
    state = str(changes["status"])
    if not outcome.delivered:
        logger.info("webhook delivery %s attempt %s: %s", row.pk, row.attempts, outcome.error)
    return {
        "delivery_id": row.pk,
        "state": state,
        "attempts": row.attempts,
        "response_status": outcome.status,
        "error": outcome.error,
        "next_attempt_at": next_at,
    }


def pause_after() -> int:
    return int(getattr(settings, "OMO_WEBHOOK_PAUSE_AFTER", PAUSE_AFTER_FAILURES))


def lease() -> dt.timedelta:
    """How long an attempt may hold a delivery before the sweep assumes its worker died."""
    return dt.timedelta(seconds=timeout_seconds() * 2 + 60)


def sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, list[int]]:
    """Enqueue again what a lost task or a dead worker left behind; fail what waited too long."""
    now = now or timezone.now()
    requeued: list[int] = []
    failed: list[int] = []
    with transaction.atomic():
        # Worker died mid-send: the attempt counts; try again or give up.
        for pk, attempts, claimed_at in WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - lease()
        ).values_list("id", "attempts", "claimed_at")[:limit]:
            claim = WebhookDelivery.objects.filter(
                pk=pk, status=WebhookDelivery.Status.SENDING, claimed_at=claimed_at
            )
            if attempts >= MAX_ATTEMPTS:
                if claim.update(
                    status=WebhookDelivery.Status.FAILED,
                    failed_at=now,
                    claimed_at=None,
                    error=error_text("lost"),
                ):
                    failed.append(pk)
            elif claim.update(
                status=WebhookDelivery.Status.PENDING,
                claimed_at=None,
                next_attempt_at=now,
                error=error_text("lost"),
            ):
                enqueue(pk)
                requeued.append(pk)
        too_old = WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, created_at__lt=now - MAX_AGE
        )
        old_ids = list(too_old.values_list("id", flat=True)[:limit])
        if old_ids:
            WebhookDelivery.objects.filter(pk__in=old_ids, status=WebhookDelivery.Status.PENDING).update(
                status=WebhookDelivery.Status.FAILED,
                failed_at=now,
                next_attempt_at=None,
                error=error_text("too_old"),
            )
            failed += old_ids
        # Pending well after its time on an active endpoint: its task is lost (or the backend cannot
        # defer). Moving next_attempt_at to now keeps the next sweep off it for LOST_AFTER.
        lost = list(
            WebhookDelivery.objects.filter(
                status=WebhookDelivery.Status.PENDING,
                endpoint__is_active=True,
                next_attempt_at__lte=now - LOST_AFTER,
            )
            .order_by("next_attempt_at", "id")
            .values_list("id", "next_attempt_at")[:limit]
        )
        for pk, due in lost:
            if WebhookDelivery.objects.filter(
                pk=pk, status=WebhookDelivery.Status.PENDING, next_attempt_at=due
            ).update(next_attempt_at=now):
                enqueue(pk)
                requeued.append(pk)
    if requeued or failed:
        logger.warning("webhook sweep: requeued %s, failed %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}
