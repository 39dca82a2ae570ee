"""The lean webhook edge: `POST /webhooks/<platform>/<inbox id>` answered by a small ASGI app.

Why not a Django view: Django's request cycle, not the database, caps a naive webhook view at a
few hundred requests/s on our 2-core reference machine (DESIGN.md §4, docs/adr-003-webhook-edge.md).
This edge does only what must happen before the platform gets its 200, and nothing else:

1. read the raw body with a size cap (413), find the inbox (404) from a short-lived cache of
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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import logging
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection, connections, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from omo.core import waiting
from omo.inbox.models import Inbox, WebhookIntake, WebhookReceipt
from omo.platforms import VERIFIERS, forget_adapter, verifier_class
from omo.platforms.base import ReceiptRow, WebhookVerifier
from omo.platforms.tasks import enqueue_processing, process_receipts, start_processing

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DbRunner = Callable[..., Awaitable[Any]]
Committer = Callable[[list[tuple[int, list[Any]]]], Awaitable[list[int]]]

PATH = re.compile(r"^/webhooks/(?P<platform>[a-z]+)/(?P<inbox_id>[0-9]{1,18})/?$")
PREFIX = "/webhooks/"
SECRETS_TTL = 30.0  # seconds a decrypted credential stays cached without a save signal
MISSING_TTL = 5.0  # an unknown inbox id is remembered briefly, so junk traffic does not hit the database
RELOAD_AFTER = 5.0  # a failed signature reloads credentials at most this often (secret rotation)
MAX_BATCH_ROWS = 5000  # entries per transaction: requests at the edge (each a Delivery)
ASYNC_WRITERS = (
    1  # transactions in flight at once for the event-loop writer (PostgreSQL; 2 measured no faster)
)


@functools.cache
def _verifier_class(platform: str) -> type[WebhookVerifier]:
    return verifier_class(platform)


# --- responses ---------------------------------------------------------------------------------------


async def respond(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when the client disconnected; BodyTooLarge past `limit`
    bytes (found while reading: a missing or false Content-Length does not get past it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


# --- running database work off the event loop ------------------------------------------------------------


class ThreadRunner:
    """Runs blocking database calls on dedicated threads (each keeps its own connection)."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close_connections(self) -> None:
        """Close the threads' database connections; the threads stay usable (they reconnect)."""
        barrier = threading.Barrier(self._workers)

        def close_connections() -> None:
            barrier.wait(5)  # one call per thread: each holds its own connection
            connections.close_all()

        futures = [self._executor.submit(close_connections) for _ in range(self._workers)]
        for future in futures:
            future.result(10)

    def close(self) -> None:
        """Close the threads' database connections and stop them (tests, shutdown)."""
        self.close_connections()
        self._executor.shutdown(wait=True)


async def run_in_calling_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """For tests driven through async_to_sync: the database work runs in the test's thread and transaction."""
    return await sync_to_async(fn, thread_sensitive=True)(*args)


# --- inbox credentials -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeInbox:
    inbox_id: int
    platform: str
    is_active: bool
    verifier: WebhookVerifier
    loaded_at: float = field(default_factory=time.monotonic)


class TtlCache:
    """key → value (None meaning "no such thing"), briefly. Reads never touch the database.

    Found values live `hit_ttl` seconds, misses `miss_ttl` (so junk traffic does not reach the
    database either); more than `max_entries` keys empties it, so junk cannot grow it without bound."""

    def __init__(self, hit_ttl: float, miss_ttl: float, max_entries: int = 10_000) -> None:
        self._hit_ttl, self._miss_ttl, self._max_entries = hit_ttl, miss_ttl, max_entries
        self._entries: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        ttl = self._hit_ttl if value is not None else self._miss_ttl
        self._entries[key] = (time.monotonic() + ttl, value)

    def forget(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


class InboxCache(TtlCache):
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


@dataclass
class _Pending:
    inbox_id: int
    rows: list[Any]
    future: asyncio.Future[None]


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


RECEIPT_FIELDS = (
    "inbox",
    "event_id",
    "event_type",
    "occurred_at",
    "payload",
    "status",
    "error",
    "received_at",
)
INSERT_CHUNK = 500  # rows per statement: 4,000 parameters, well under PostgreSQL's and SQLite's limits


def insert_receipts(rows: list[ReceiptEntry]) -> None:
    """Insert receipts, skipping a redelivered (inbox, event id): a no-op, not an error.

    Plain SQL on purpose (measured, see ADR 003): the ORM's bulk_create spent most of its time
    building model instances and preparing every field in Python.
    """
    if connection.vendor == "postgresql":
        _insert_receipts_postgres(rows)
    else:
        _insert_receipts_values(rows)


def _receipt_table() -> tuple[str, str]:
    ops = connection.ops
    meta = WebhookReceipt._meta
    columns = ", ".join(ops.quote_name(meta.get_field(name).column) for name in RECEIPT_FIELDS)
    return ops.quote_name(meta.db_table), columns


@functools.cache
def _unnest_insert_sql() -> str:
    table, columns = _receipt_table()
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from _meta
        "SELECT (r->>0)::bigint, r->>1, r->>2, (r->>3)::timestamptz, (r->4)::jsonb, %b, '', (r->>5)::timestamptz "
        "FROM json_array_elements(%b::json) AS r "
        "ON CONFLICT DO NOTHING"
    )


def parse_json(raw_body: bytes) -> Any:
    """orjson (a third of the standard parser's time); the standard one for what orjson refuses
    but JSON allows, such as integers beyond 64 bits, so the two never disagree on a valid body."""
    try:
        return orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return json.loads(raw_body)


def _insert_receipts_postgres(rows: list[ReceiptEntry]) -> None:
    """One fixed statement whatever the batch size: the rows as one JSON array, unpacked by the server.

    The statement text never changes, so psycopg parses it once and prepares it on the server.
    The whole batch is one orjson call (payloads as they are, times as ISO-8601): measured against
    five binary arrays (psycopg dumps arrays element by element in Python, then the edge's largest
    cost after the request itself) and, before that, a multi-row VALUES statement that psycopg
    re-split for every batch (8 parameters a row).
    """
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_unnest_insert_sql(), _unnest_params(rows), prepare=True)


def _unnest_params(rows: list[ReceiptEntry]) -> list[Any]:
    batch = [
        [inbox_id, row.event_id, row.event_type, row.occurred_at, row.payload, received_at]
        for inbox_id, row, received_at in rows
    ]
    try:
        document = orjson.dumps(batch).decode()
    except TypeError:  # an integer beyond 64 bits, which orjson refuses and json keeps
        document = json.dumps(batch, separators=(",", ":"), default=_iso)
    return [WebhookReceipt.Status.PENDING.value, document]


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _insert_receipts_values(rows: list[ReceiptEntry]) -> None:
    """Multi-row INSERT … ON CONFLICT DO NOTHING, 500 rows a statement (SQLite)."""
    ops = connection.ops
    table, columns = _receipt_table()
    placeholder = "(" + ", ".join(["%s"] * len(RECEIPT_FIELDS)) + ")"
    pending = WebhookReceipt.Status.PENDING.value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params: list[Any] = []
            for inbox_id, row, received_at in chunk:
                params += [
                    inbox_id,
                    row.event_id,
                    row.event_type,
                    ops.adapt_datetimefield_value(row.occurred_at),
                    ops.adapt_json_value(row.payload, None),
                    pending,
                    "",
                    ops.adapt_datetimefield_value(received_at),
                ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from _meta
                f"VALUES {', '.join([placeholder] * len(chunk))} ON CONFLICT DO NOTHING",
                params,
            )


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


class _NeedsNewTask(Exception):
    """A key of the batch has no waiting processing task: the batch goes the thread's way."""


class AsyncPostgresCommitter:
    """Commits group-commit batches on an asynchronous psycopg connection that the event loop drives.

    Why: with the writer on a thread, every round trip to PostgreSQL ended with the thread waiting
    for the GIL while the event loop thread parsed requests (up to a switch interval, 5 ms, each
    time), so a batch took ~20 ms for ~2 ms of database work and the edge idled at half a core.
    Here the loop itself awaits the socket: no second thread, no hand-over.

    A batch is one statement in autocommit (one round trip, one commit): the fixed INSERT of the
    batch's rows (`statement` with `params(rows)`), guarded so that it inserts only while the
    processing `task` of every key is still waiting (the task rows locked FOR SHARE SKIP LOCKED
    until the commit, so a worker cannot claim one before the rows are there; see
    omo/core/waiting.py). When a task was taken by a worker (nothing inserted) or none is known,
    `fallback(items)` commits the batch on a thread, enqueuing the task through django-tasks in the
    same transaction: about once per worker pick-up, not per request. (It used to be BEGIN,
    INSERT, a look-up per key and COMMIT: four round trips, which bounded a closed loop of few
    connections.)
    Items are (key, rows) as the writer collects them; `task_keys(items)` names the task keys
    (default: the item keys).
    """

    def __init__(
        self,
        run_db: DbRunner,
        *,
        statement: Callable[[], str],
        params: Callable[[list[tuple[Any, Any]]], list[Any]],
        task: Any,
        fallback: Callable[[list[tuple[Any, list[Any]]]], list[Any]],
        task_keys: Callable[[list[tuple[Any, list[Any]]]], list[Any]] | None = None,
    ) -> None:
        self._run_db = run_db
        self._statement = statement
        self._params = params
        self._task = task
        self._fallback = fallback
        self._task_keys = task_keys or (lambda items: sorted({key for key, rows in items if rows}))
        self._idle: list[Any] = []  # connections not in a transaction; one per writer slot at most
        self._open: list[Any] = []
        self.fallbacks = 0  # batches that needed a new task (tests, the bench)
        self._guarded: str | None = None

    @staticmethod
    def connection_params() -> dict[str, Any]:
        params = dict(connection.get_connection_params())
        for key in ("cursor_factory", "context", "server_side_binding"):
            params.pop(key, None)
        return params

    async def _acquire(self) -> Any:
        import psycopg

        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        conn = await psycopg.AsyncConnection.connect(**self.connection_params(), autocommit=True)
        self._open.append(conn)
        return conn

    def _forget(self, conn: Any) -> None:
        if conn in self._open:
            self._open.remove(conn)

    async def close(self) -> None:
        for conn in self._open:
            if not conn.closed:
                await conn.close()
        self._open.clear()
        self._idle.clear()

    def close_now(self) -> None:
        """Close from outside the event loop (its loop may be gone already): shutdown, tests."""
        for conn in self._open:
            if not conn.closed:
                conn.pgconn.finish()
        self._open.clear()
        self._idle.clear()

    async def __call__(self, items: list[tuple[Any, list[Any]]]) -> list[Any]:
        import psycopg

        rows = [(key, row) for key, key_rows in items for row in key_rows]
        keys = self._task_keys(items)
        database_queue = waiting.uses_database_queue(self._task)
        if database_queue:
            task_ids = [waiting.known(self._task, key) for key in keys]
            if None in task_ids:  # no task known to be waiting: the thread path enqueues one
                self.fallbacks += 1
                return await self._run_db(self._fallback, items)
            sql, params = self._guarded_statement(), waiting.guarded_params(task_ids, self._params(rows))
        else:
            sql, params = self._statement(), self._params(rows)
        for attempt in (1, 2):
            conn = await self._acquire()
            try:
                # One statement in autocommit: one round trip, its own transaction.
                cursor = await conn.execute(sql, params, prepare=True)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                # A dropped connection (database restart, idle time-out): reconnect once.
                self._forget(conn)
                await conn.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._forget(conn)
                await conn.close()
                raise
            self._idle.append(conn)
            if database_queue and cursor.rowcount != len(rows):
                # A worker took a task meanwhile: nothing was inserted; commit with a new task.
                waiting.forget_all(self._task, keys)
                self.fallbacks += 1
                return await self._run_db(self._fallback, items)
            return [] if database_queue else keys
        raise AssertionError("unreachable")

    def _guarded_statement(self) -> str:
        if self._guarded is None:
            self._guarded = waiting.guarded_insert(self._statement())
        return self._guarded


@functools.cache
def _intake_insert_sql() -> str:
    ops = connection.ops
    meta = WebhookIntake._meta
    columns = ", ".join(
        ops.quote_name(meta.get_field(name).column) for name in ("inbox", "body", "received_at")
    )
    return (
        f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608 - names from _meta
        "SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::timestamptz[])"
    )


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
        statement=_intake_insert_sql,
        params=_intake_params,
        task=process_receipts,
        fallback=lambda items: commit_receipts(items),  # looked up when called (tests replace it)
    )


class ReceiptWriter:
    """Collects receipt rows from concurrent requests and commits them in batches (group commit).

    Rows come keyed (by inbox here); `commit(items)` stores a batch and returns the keys whose
    processing `start(keys)` must still start after the answers (non-database task backends). The
    defaults are the webhook receipts'; the tracking edge passes its own.

    While a batch is being committed on a database thread, new requests queue up; the next batch
    takes all of them. Under load this turns N concurrent webhooks into one transaction (one
    fsync). `concurrency` > 1 keeps that many transactions in flight at once (PostgreSQL only;
    SQLite has one writer); the default is 1 (see WebhookEdge).
    """

    def __init__(
        self,
        run_db: DbRunner,
        *,
        max_rows: int = MAX_BATCH_ROWS,
        concurrency: int = 1,
        commit: Committer | None = None,
        start: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self._run_db = run_db
        self._commit_items = commit or self._commit_in_thread
        self._start = start
        self._max_rows = max_rows
        self._queue: deque[_Pending] = deque()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self.batches = 0  # for tests and the bench: how many transactions so far

    async def write(self, inbox_id: int, rows: list[Any]) -> asyncio.Future[None]:
        """Queue rows; the returned future resolves when they are committed (or fails with the error)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(inbox_id, rows, future))
        # The dispatching task runs while there is work and ends when the queue is empty (no await
        # between its last look at the queue and its end, so nothing can be left behind).
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="omo-receipt-writer")
        return future

    async def _commit_in_thread(self, items: list[tuple[int, list[Any]]]) -> list[int]:
        return await self._run_db(commit_receipts, items)

    async def wait_idle(self) -> None:
        """Until every queued batch is committed and its processing started (tests, shutdown)."""
        while self._queue or self._in_flight or (self._task is not None and not self._task.done()):
            await asyncio.gather(
                *self._in_flight, *([self._task] if self._task else []), return_exceptions=True
            )

    async def aclose(self) -> None:
        """Commit what is queued, then close the writer's own connection, if it has one."""
        await self.wait_idle()
        close = getattr(self._commit_items, "close", None)
        if close is not None:
            await close()

    async def _run(self) -> None:
        while self._queue:
            await self._slots.acquire()
            if not self._queue:
                self._slots.release()
                return
            batch: list[_Pending] = []
            rows = 0
            while self._queue and (not batch or rows + len(self._queue[0].rows) <= self._max_rows):
                item = self._queue.popleft()
                batch.append(item)
                rows += len(item.rows)
            commit = asyncio.create_task(self._commit_then_free(batch))
            self._in_flight.add(commit)  # keep a reference until it is done
            commit.add_done_callback(self._in_flight.discard)

    async def _commit_then_free(self, batch: list[_Pending]) -> None:
        try:
            await self._commit(batch)
        finally:
            self._slots.release()

    async def _commit(self, batch: list[_Pending]) -> None:
        self.batches += 1
        later: list[int] = []
        try:
            later += await self._commit_items([(item.inbox_id, item.rows) for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                logger.exception("committing %d webhook receipts failed", len(batch[0].rows))
                _settle(batch[0].future, exc)
                return
            # One bad request must not fail its neighbours: commit each on its own.
            for item in batch:
                try:
                    later += await self._commit_items([(item.inbox_id, item.rows)])
                except Exception as item_exc:
                    logger.exception("committing webhook receipts of inbox %s failed", item.inbox_id)
                    _settle(item.future, item_exc)
                else:
                    _settle(item.future, None)
        else:
            for item in batch:
                _settle(item.future, None)
        if later:
            # The requests are answered first; then the processing starts (an immediate backend runs it now).
            await asyncio.sleep(0)
            try:
                await self._run_db(self._start or start_processing, later)
            except Exception:
                logger.exception("starting the processing of webhook receipts failed")


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request gave up waiting (deadline): nothing to tell it
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


# --- the edge --------------------------------------------------------------------------------------------


class WebhookEdge:
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
        self.app = app
        # On PostgreSQL the writer runs on the event loop (AsyncPostgresCommitter) unless a test
        # injects its own database runner; SQLite's driver has no asynchronous interface.
        self._async_writer = async_writer if async_writer is not None else run_db is None
        # Transactions in flight at once: one by default. Measured on PostgreSQL: a second writer
        # thread gained nothing and tripled p99 (both fight the event loop for the GIL); a second
        # connection of the event-loop writer gained nothing either (the server's CPU is the limit).
        self._writers_at_once = writers
        self._run_db = run_db or ThreadRunner("omo-receipts", workers=writers or 1)
        self._run_lookup = run_lookup or (
            run_db if run_db is not None else ThreadRunner("omo-edge-lookup", workers=2)
        )
        self.max_body_bytes = max_body_bytes
        self.commit_timeout = commit_timeout
        self.cache = cache or inbox_cache
        self._async_committers: list[AsyncPostgresCommitter] = []
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReceiptWriter] = (
            weakref.WeakKeyDictionary()
        )

    def close(self) -> None:
        self.release_connections(stop=True)

    def release_connections(self, *, stop: bool = False) -> None:
        """Close every database connection the edge holds (threads and event-loop writers), e.g.
        when a test server stops; the edge reconnects on its next request unless `stop`."""
        release_connections(self._async_committers, self._run_db, self._run_lookup, stop=stop)
        self._writers.clear()

    def writer(self) -> ReceiptWriter:
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            commit = None
            if self._async_writer and connection.vendor == "postgresql":
                commit = receipts_committer(self._run_db)
                self._async_committers.append(commit)
            at_once = self._writers_at_once or (ASYNC_WRITERS if commit is not None else 1)
            writer = self._writers[loop] = ReceiptWriter(self._run_db, concurrency=at_once, commit=commit)
        return writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            match = PATH.match(scope["path"])
            if match is not None and match["platform"] in VERIFIERS:
                await self.handle(scope, receive, send, match["platform"], int(match["inbox_id"]))
                return
        if self.app is None:
            await respond(send, 404, _error("not_found", "no such endpoint"))
            return
        await self.app(scope, receive, send)

    async def _inbox(self, inbox_id: int, *, reload: bool = False) -> EdgeInbox | None:
        found, entry = (False, None) if reload else self.cache.get(inbox_id)
        if not found:
            entry = await self._run_lookup(load_inbox, inbox_id)
            self.cache.put(inbox_id, entry)
        return entry

    async def handle(self, scope: Scope, receive: Receive, send: Send, platform: str, inbox_id: int) -> None:
        if scope["method"] != "POST":
            await respond(send, 405, _error("method_not_allowed", "use POST"), [(b"allow", b"POST")])
            return
        limits = _verifier_class(platform).limits
        max_body = self.max_body_bytes or limits.max_webhook_body_bytes
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
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
                await respond(send, 401, _error("invalid_signature", "the signature does not match the body"))
                return
        try:
            document = parse_json(raw_body)
            rows = edge_inbox.verifier.receipt_rows(document)
        except (ValueError, UnicodeDecodeError) as exc:
            await respond(send, 400, _error("malformed", str(exc)[:200]))
            return
        if not rows:
            await respond(send, 200, {"received": 0})
            return

        deadline = self.commit_timeout or limits.webhook_deadline.total_seconds() * 0.75
        future = await self.writer().write(inbox_id, [Delivery(raw_body, rows, timezone.now())])
        try:
            # On time-out the future is cancelled; the writer still commits the rows (a redelivery
            # then finds them) and simply has no one left to tell.
            async with asyncio.timeout(deadline):
                await future
        except TimeoutError:
            logger.warning("webhook receipts for inbox %s not committed within %.1f s", inbox_id, deadline)
            await respond(
                send, 503, _error("busy", "not stored in time; please redeliver"), [(b"retry-after", b"1")]
            )
            return
        except Exception:  # already logged by the writer; the platform will redeliver
            await respond(
                send, 500, _error("not_stored", "the receipts could not be stored; please redeliver")
            )
            return
        await respond(send, 200, {"received": len(rows)})


def release_connections(
    committers: list[AsyncPostgresCommitter], *runners: DbRunner, stop: bool = False
) -> None:
    """Close an edge's connections: its event-loop committers' and its database threads'."""
    for committer in committers:
        committer.close_now()
    committers.clear()
    for runner in {id(runner): runner for runner in runners}.values():
        if isinstance(runner, ThreadRunner):
            runner.close() if stop else runner.close_connections()


def webhook_edge(app: ASGIApp | None = None, **options: Any) -> WebhookEdge:
    """Wrap an ASGI app (Django's) so that platform webhooks are answered by the edge first."""
    return WebhookEdge(app, **options)
