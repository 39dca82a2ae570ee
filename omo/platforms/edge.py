"""The lean webhook edge: `POST /webhooks/<platform>/<inbox id>` answered by a small ASGI app.

Why not a Django view: Django's request cycle, not the database, caps a naive webhook view at a
few hundred requests/s on our 2-core reference machine (DESIGN.md §4, docs/adr-003-webhook-edge.md).
This edge does only what must happen before the platform gets its 200, and nothing else:

1. refuse a body that is not `Content-Type: application/json` (415), read the raw body with a
   size cap (413), find the inbox (404) from a short-lived cache of
   decrypted credentials (invalidated when an Inbox is saved),
2. check the signature on the unmodified raw body (401, nothing stored),
3. check the JSON shape (400, nothing stored); `events: []` is a connectivity check → 200,
4. hand the request (raw body and its events) to the group-commit writer: one writer per event
   loop collects the requests of all concurrent webhooks and stores them in one transaction
   together with the inbox's processing task. When a task for the inbox already waits (busy
   times, PostgreSQL) each request is one WebhookIntake row holding the raw body, which that task
   splits into receipts; otherwise one receipt row per event (ignore-conflicts on (inbox, event
   id), so redeliveries are no-ops) with a new task. Then it
5. answers each request 200 only after its rows are committed, or 503 if that did not happen
   within the platform's deadline (LINE: 2 s), so the platform redelivers rather than lose it.

On PostgreSQL the writer commits on an asynchronous connection of the event loop
(`AsyncPostgresCommitter`); other database work (credential look-ups, SQLite, the rare batch that
must enqueue a new task) runs in threads, never blocking the loop. Everything after the receipt (identity,
conversation, routing, sockets) runs in `omo.platforms.tasks.process_receipts` with all of Django.
The rows themselves (their SQL, a receipt's life) belong to the inbox: omo/inbox/receipts.py.
The parts shared with the tracking edge (body, answers, caches, threads, the writer and the
event-loop committer, the ASGI pass-through) are in omo/core/edge.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from omo.core.edge import (
    ASGIApp,
    AsyncPostgresCommitter,
    BodyTooLarge,
    DbRunner,
    Edge,
    GroupCommitWriter,
    Receive,
    Scope,
    Send,
    Stored,
    TtlCache,
    parse_webhook_json,
    read_body,
    respond,
    too_deep,
)
from omo.inbox import services as inbox_services
from omo.inbox.models import Inbox
from omo.inbox.receipts import insert_receipts, intake_insert_sql
from omo.platforms import VERIFIERS, forget_adapter, verifier_class
from omo.platforms.base import ReceiptRow, WebhookVerifier
from omo.platforms.tasks import enqueue_processing, process_receipts, start_processing

PATH = re.compile(r"^/webhooks/(?P<platform>[a-z]+)/(?P<inbox_id>[0-9]{1,18})/?$")
PREFIX = "/webhooks/"
SECRETS_TTL = 30.0  # seconds a decrypted credential stays cached without a save signal
MISSING_TTL = 5.0  # an unknown inbox id is remembered briefly, so junk traffic does not hit the database
RELOAD_AFTER = 5.0  # a failed signature reloads credentials at most this often (secret rotation)
logger = logging.getLogger(__name__)
SIGNATURE_FAILURE_NOTE_EVERY = 60.0  # seconds between two records of refused signatures, per inbox
MAX_BATCH_ROWS = 5000  # entries per transaction: requests at the edge (each a Delivery)
ASYNC_WRITERS = (
    1  # transactions in flight at once for the event-loop writer (PostgreSQL; 2 measured no faster)
)


@functools.cache
def _verifier_class(platform: str) -> type[WebhookVerifier]:
    return verifier_class(platform)


# --- responses ---------------------------------------------------------------------------------------


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def _malformed(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "the JSON is nested too deeply"
    return str(exc)[:200]


def is_json(content_type: str) -> bool:
    """Is this Content-Type JSON (`application/json`, any parameters such as charset)?"""
    return content_type.partition(";")[0].strip().lower() == "application/json"


# --- inbox credentials -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeInbox:
    inbox_id: int
    platform: str
    is_active: bool
    verifier: WebhookVerifier
    loaded_at: float = field(default_factory=time.monotonic)


class InboxCache(TtlCache[int, EdgeInbox]):
    """inbox id → EdgeInbox (or None for "no such inbox")."""

    def __init__(self) -> None:
        super().__init__(SECRETS_TTL, MISSING_TTL)


inbox_cache = InboxCache()


def _forget_inbox(sender: type, instance: Inbox, **kwargs: Any) -> None:
    inbox_cache.forget(instance.pk)
    forget_adapter(instance.pk)


post_save.connect(_forget_inbox, sender=Inbox, dispatch_uid="omo.platforms.edge.forget_inbox_saved")
post_delete.connect(_forget_inbox, sender=Inbox, dispatch_uid="omo.platforms.edge.forget_inbox_deleted")


def load_inbox(inbox_id: int) -> EdgeInbox | None:
    query = Inbox.objects.filter(pk=inbox_id).only("id", "platform", "is_active", "secrets", "external_id")
    try:
        inbox = query.first()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()  # a dropped connection on this long-lived thread: reconnect once
        inbox = query.first()
    if inbox is None or inbox.platform not in VERIFIERS:
        return None
    return EdgeInbox(
        inbox.pk, inbox.platform, inbox.is_active, _verifier_class(inbox.platform).for_inbox(inbox)
    )


# --- the group-commit writer -----------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """One webhook request as the edge checked it: the raw body, its events, when it arrived."""

    body: bytes
    rows: list[ReceiptRow]
    received_at: dt.datetime


ReceiptEntry = tuple[int, ReceiptRow, dt.datetime]  # (inbox id, row, received at)


def receipt_entries(
    items: list[tuple[int, list[Any]]], received_at: dt.datetime | None = None
) -> list[ReceiptEntry]:
    """Receipt rows of a batch whose entries are Deliveries or single ReceiptRows."""
    now = received_at or timezone.now()
    entries: list[ReceiptEntry] = []
    for inbox_id, batch in items:
        for item in batch:
            if isinstance(item, Delivery):
                entries += [(inbox_id, row, item.received_at) for row in item.rows]
            else:
                entries.append((inbox_id, item, now))
    return entries


def commit_receipts(items: list[tuple[int, list[Any]]]) -> list[int]:
    """Insert receipts of many requests in one transaction, with their processing tasks (sync, any thread).

    Entries are Deliveries (the edge) or ReceiptRows. Returns the inboxes whose processing the
    caller must still start with `start_processing` once the requests are answered (only with
    task backends other than the database queue).
    """
    rows = receipt_entries(items)
    for attempt in (1, 2):
        try:
            later: list[int] = []
            with transaction.atomic():
                insert_receipts(rows)
                enqueue_processing(
                    {inbox_id for inbox_id, inbox_rows in items if inbox_rows}, after_commit=later
                )
            return later
        except (OperationalError, InterfaceError):
            # A dropped connection (database restart, idle time-out): reconnect once.
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
    raise AssertionError("unreachable")


def _intake_params(entries: list[tuple[int, Any]]) -> list[Any]:
    """One intake row per request: the raw body as it came (no per-event work, one row to write)."""
    if not all(isinstance(entry, Delivery) for _, entry in entries):
        raise TypeError("the event-loop writer stores whole requests (Delivery)")
    return [
        [inbox_id for inbox_id, _ in entries],
        [entry.body for _, entry in entries],
        [entry.received_at for _, entry in entries],
    ]


def receipts_committer(run_db: DbRunner) -> AsyncPostgresCommitter:
    """The webhook receipts' committer: while an inbox's processing task waits, each request is one
    intake row (its raw body) that the task splits into receipts; otherwise receipts and a new task
    are committed on a thread (`commit_receipts`)."""
    return AsyncPostgresCommitter(
        run_db,
        statement=intake_insert_sql,
        params=_intake_params,
        task=process_receipts,
        fallback=lambda items: commit_receipts(items),  # looked up when called (tests replace it)
    )


# --- the edge --------------------------------------------------------------------------------------------


class WebhookEdge(Edge):
    """ASGI app: platform webhooks here, everything else to `app` (Django)."""

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        run_db: DbRunner | None = None,
        run_lookup: DbRunner | None = None,
        max_body_bytes: int | None = None,
        commit_timeout: float | None = None,
        cache: InboxCache | None = None,
        writers: int | None = None,
        async_writer: bool | None = None,
    ) -> None:
        # Transactions in flight at once: one by default. Measured on PostgreSQL: a second writer
        # thread gained nothing and tripled p99 (both fight the event loop for the GIL); a second
        # connection of the event-loop writer gained nothing either (the server's CPU is the limit).
        super().__init__(
            app,
            run_db=run_db,
            run_lookup=run_lookup,
            async_writer=async_writer,
            name="receipts",
            writer_threads=writers or 1,
            lookup_threads=2,
        )
        self._writers_at_once = writers
        self.max_body_bytes = max_body_bytes
        self.commit_timeout = commit_timeout
        self.cache = cache or inbox_cache
        self._signature_failures_noted: dict[int, float] = {}

    def async_committer(self) -> AsyncPostgresCommitter:
        return receipts_committer(self._run_db)

    def new_writer(self, committer: AsyncPostgresCommitter | None) -> GroupCommitWriter:
        at_once = self._writers_at_once or (ASYNC_WRITERS if committer is not None else 1)
        return GroupCommitWriter(
            self._run_db,
            max_rows=MAX_BATCH_ROWS,
            concurrency=at_once,
            commit=committer,
            # looked up when called (tests replace them)
            commit_rows=lambda items: commit_receipts(items),
            start=lambda keys: start_processing(keys),
        )

    def match(self, scope: Scope) -> tuple[str, int] | None:
        if not scope["path"].startswith(PREFIX):
            return None
        match = PATH.match(scope["path"])
        if match is None or match["platform"] not in VERIFIERS:
            return None
        return match["platform"], int(match["inbox_id"])

    async def _inbox(self, inbox_id: int, *, reload: bool = False) -> EdgeInbox | None:
        found, entry = (False, None) if reload else self.cache.get(inbox_id)
        if not found:
            entry = await self._run_lookup(load_inbox, inbox_id)
            self.cache.put(inbox_id, entry)
        return entry

    async def _note_signature_failure(self, inbox_id: int) -> None:
        """Record a refused signature on the inbox (for its page), at most once a minute per inbox."""
        now = time.monotonic()
        noted = self._signature_failures_noted
        if now - noted.get(inbox_id, -SIGNATURE_FAILURE_NOTE_EVERY) < SIGNATURE_FAILURE_NOTE_EVERY:
            return
        noted[inbox_id] = now
        try:
            await self._run_lookup(inbox_services.record_signature_failure, inbox_id)
        except Exception:  # noqa: BLE001 — a note for people; the 401 answer must not depend on it
            logger.warning("could not record a signature failure of inbox %s", inbox_id, exc_info=True)

    async def handle(self, scope: Scope, receive: Receive, send: Send, matched: tuple[str, int]) -> None:
        platform, inbox_id = matched
        if scope["method"] != "POST":
            await respond(send, 405, _error("method_not_allowed", "use POST"), [(b"allow", b"POST")])
            return
        limits = _verifier_class(platform).limits
        max_body = self.max_body_bytes or limits.max_webhook_body_bytes
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        if not is_json(headers.get("content-type", "")):
            # LINE (and every platform here) posts `application/json; charset=utf-8`: anything else
            # is not the platform, whatever its signature says.
            await respond(
                send,
                415,
                _error("unsupported_media_type", "the body must be sent as Content-Type: application/json"),
            )
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            await respond(send, 413, _error("payload_too_large", f"the body is larger than {max_body} bytes"))
            return
        try:
            raw_body = await read_body(receive, max_body)
        except BodyTooLarge:
            await respond(send, 413, _error("payload_too_large", f"the body is larger than {max_body} bytes"))
            return
        if raw_body is None:  # the client went away
            return

        edge_inbox = await self._inbox(inbox_id)
        if edge_inbox is None or edge_inbox.platform != platform or not edge_inbox.is_active:
            await respond(send, 404, _error("unknown_inbox", "no active inbox with this id"))
            return
        if not edge_inbox.verifier.verify(headers, raw_body):
            # Credentials may have just been rotated on another machine: look again, at most every few seconds.
            if time.monotonic() - edge_inbox.loaded_at > RELOAD_AFTER:
                edge_inbox = await self._inbox(inbox_id, reload=True)
            if edge_inbox is None or not edge_inbox.verifier.verify(headers, raw_body):
                await self._note_signature_failure(inbox_id)
                await respond(send, 401, _error("invalid_signature", "the signature does not match the body"))
                return
        try:
            document = parse_webhook_json(raw_body)
            rows = edge_inbox.verifier.receipt_rows(document)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            await respond(send, 400, _error("malformed", _malformed(exc)))
            return
        if not rows:
            await respond(send, 200, {"received": 0})
            return

        deadline = self.commit_timeout or limits.webhook_deadline.total_seconds() * 0.75
        stored = await self.store(inbox_id, [Delivery(raw_body, rows, timezone.now())], deadline=deadline)
        if stored is Stored.LATE:
            await respond(
                send, 503, _error("busy", "not stored in time; please redeliver"), [(b"retry-after", b"1")]
            )
        elif stored is Stored.FAILED and too_deep(document):
            # Storing it failed because of what it is (checked only now: nothing on the hot path).
            await respond(send, 400, _error("malformed", "the JSON is nested too deeply"))
        elif stored is Stored.FAILED:  # the platform will redeliver
            await respond(
                send, 500, _error("not_stored", "the receipts could not be stored; please redeliver")
            )
        else:
            await respond(send, 200, {"received": len(rows)})


def webhook_edge(app: ASGIApp | None = None, **options: Any) -> WebhookEdge:
    """Wrap an ASGI app (Django's) so that platform webhooks are answered by the edge first."""
    return WebhookEdge(app, **options)
