"""What the lean ASGI edges share (the webhook edge in omo/platforms/edge.py, the tracking edge in
omo/tracking/edge.py): reading a capped body, JSON answers, a short-lived cache, database work off
the event loop, and the group-commit writer that turns many concurrent requests into one
transaction (docs/adr-003-webhook-edge.md).

An edge does only what its answer depends on (authenticate, check size and shape, store the raw
request durably) and hands everything else to a task with all of Django.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from asgiref.sync import sync_to_async
from django.db import connection, connections

from omo.core import waiting

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DbRunner = Callable[..., Awaitable[Any]]
Committer = Callable[[list[tuple[Any, list[Any]]]], Awaitable[list[Any]]]

MAX_BATCH_ROWS = 5000  # entries per transaction unless the edge sets its own

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


# --- requests and answers ------------------------------------------------------------------------------


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


def parse_json(raw_body: bytes) -> Any:
    """orjson (a third of the standard parser's time); the standard one for what orjson refuses
    but JSON allows, such as integers beyond 64 bits, so the two never disagree on a valid body."""
    try:
        return orjson.loads(raw_body)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise ValueError("the JSON is nested too deeply") from None
    try:
        return json.loads(raw_body)
    except RecursionError:  # orjson stops at 1,024 levels; the standard parser would blow the stack
        raise ValueError("the JSON is nested too deeply") from None


NUL_ESCAPE = b"\\u0000"
MAX_DEPTH = 64  # levels of arrays and objects a webhook body may nest


def parse_webhook_json(raw_body: bytes) -> Any:
    """A platform's webhook body decoded, with NUL characters removed from every string.

    PostgreSQL stores no NUL in text or JSON, and a chat text has no use for one; the platform
    already counts the message as delivered, so it is kept without the NUL rather than refused.
    The raw body (signed, stored whole under load) is left as it came. Only a body that spells
    `\\u0000` is walked: a byte search, nothing measurable on the hot path."""
    document = parse_json(raw_body)
    if NUL_ESCAPE in raw_body:
        try:
            return without_nul(document)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
    return document


def too_deep(document: Any, limit: int | None = None) -> bool:
    """Do arrays and objects nest deeper than `limit` (MAX_DEPTH)? A platform's event is a few
    levels deep; one nested hundreds of levels cannot be stored (the JSON encoders' recursion).
    Walked only after storing failed, never on the hot path."""
    try:
        check_depth(document, limit)
    except ValueError:
        return True
    return False


def check_depth(document: Any, limit: int | None = None) -> None:
    """ValueError when arrays and objects nest deeper than `limit` (MAX_DEPTH)."""
    limit = limit or MAX_DEPTH
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise ValueError("the JSON is nested too deeply")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def without_nul(value: Any) -> Any:
    """The JSON value with every NUL character removed from its strings (keys included)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


# --- a short-lived cache -------------------------------------------------------------------------------


class TtlCache(Generic[K, V]):
    """key → value (None meaning "no such thing"), briefly. Reads never touch the database.

    Found values live `hit_ttl` seconds, misses `miss_ttl` (so junk traffic does not reach the
    database either); more than `max_entries` keys empties it, so junk cannot grow it without bound."""

    def __init__(self, hit_ttl: float, miss_ttl: float, max_entries: int = 10_000) -> None:
        self._hit_ttl, self._miss_ttl, self._max_entries = hit_ttl, miss_ttl, max_entries
        self._entries: dict[K, tuple[float, V | None]] = {}

    def get(self, key: K) -> tuple[bool, V | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: K, value: V | None) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        ttl = self._hit_ttl if value is not None else self._miss_ttl
        self._entries[key] = (time.monotonic() + ttl, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


# --- database work off the event loop ------------------------------------------------------------------


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


# --- the group-commit writer ---------------------------------------------------------------------------


@dataclass
class _Pending:
    inbox_id: int  # the key: an inbox id, a connection id, the tracking intake's key
    rows: list[Any]
    future: asyncio.Future[None]


class GroupCommitWriter:
    """Collects rows from concurrent requests and commits them in batches (group commit).

    Rows come keyed (by inbox, by source); a batch is stored either by `commit(items)` (an async
    committer, e.g. AsyncPostgresCommitter) or by `commit_rows(items)` on a database thread; either
    returns the keys whose processing `start(keys)` must still start after the answers (task
    backends other than the database queue).

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
        commit_rows: Callable[[list[tuple[Any, list[Any]]]], list[Any]],
        start: Callable[[list[Any]], None],
        commit: Committer | None = None,
    ) -> None:
        self._run_db = run_db
        self._commit_rows = commit_rows
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

    async def _commit_in_thread(self, items: list[tuple[Any, list[Any]]]) -> list[Any]:
        later: list[Any] = await self._run_db(self._commit_rows, items)
        return later

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
                logger.exception("committing %d rows of key %s failed", len(batch[0].rows), batch[0].inbox_id)
                _settle(batch[0].future, exc)
                return
            # One bad request must not fail its neighbours: commit each on its own.
            for item in batch:
                try:
                    later += await self._commit_items([(item.inbox_id, item.rows)])
                except Exception as item_exc:
                    logger.exception("committing the rows of key %s failed", item.inbox_id)
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
                await self._run_db(self._start, later)
            except Exception:
                logger.exception("starting the processing of committed rows failed")


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request gave up waiting (deadline): nothing to tell it
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


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
                return await self._commit_on_thread(items)
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
                return await self._commit_on_thread(items)
            return [] if database_queue else keys
        raise AssertionError("unreachable")

    async def _commit_on_thread(self, items: list[tuple[Any, list[Any]]]) -> list[Any]:
        self.fallbacks += 1
        later: list[Any] = await self._run_db(self._fallback, items)
        return later

    def _guarded_statement(self) -> str:
        if self._guarded is None:
            self._guarded = waiting.guarded_insert(self._statement())
        return self._guarded


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


# --- the edge ------------------------------------------------------------------------------------------


class Stored(enum.Enum):
    """How storing one request through the writer ended."""

    COMMITTED = "committed"
    LATE = "late"  # not committed within the deadline (the writer still commits it)
    FAILED = "failed"  # the commit failed (logged by the writer)


class Edge:
    """An ASGI app that answers some requests itself (`match`, `handle`) and passes every other one
    to `app` (Django). It owns its database threads and, on PostgreSQL, the event-loop committers
    of its writers (one writer per event loop)."""

    not_found: dict[str, Any] = {"error": "not_found", "message": "no such endpoint"}

    def __init__(
        self,
        app: ASGIApp | None,
        *,
        run_db: DbRunner | None,
        run_lookup: DbRunner | None,
        async_writer: bool | None,
        name: str,
        writer_threads: int = 1,
        lookup_threads: int = 1,
    ) -> None:
        self.app = app
        # On PostgreSQL the writer runs on the event loop (AsyncPostgresCommitter) unless a test
        # injects its own database runner; SQLite's driver has no asynchronous interface.
        self._async_writer = async_writer if async_writer is not None else run_db is None
        self._run_db = run_db or ThreadRunner(f"omo-{name}", workers=writer_threads)
        self._run_lookup = run_lookup or (
            run_db if run_db is not None else ThreadRunner(f"omo-{name}-lookup", workers=lookup_threads)
        )
        self._committers: list[AsyncPostgresCommitter] = []
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommitWriter] = (
            weakref.WeakKeyDictionary()
        )

    # What each edge says for itself.

    def match(self, scope: Scope) -> Any:
        """What `handle` needs to answer this request, or None when the request is not this edge's."""
        raise NotImplementedError

    async def handle(self, scope: Scope, receive: Receive, send: Send, matched: Any) -> None:
        raise NotImplementedError

    def async_committer(self) -> AsyncPostgresCommitter | None:
        """The event-loop committer of a new writer (PostgreSQL); None commits on a database thread."""
        return None

    def new_writer(self, committer: AsyncPostgresCommitter | None) -> GroupCommitWriter:
        raise NotImplementedError

    # Shared.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            matched = self.match(scope)
            if matched is not None:
                await self.handle(scope, receive, send, matched)
                return
        if self.app is None:
            await respond(send, 404, self.not_found)
            return
        await self.app(scope, receive, send)

    def writer(self) -> GroupCommitWriter:
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            committer = None
            if self._async_writer and connection.vendor == "postgresql":
                committer = self.async_committer()
                if committer is not None:
                    self._committers.append(committer)
            writer = self._writers[loop] = self.new_writer(committer)
        return writer

    async def store(self, key: int, rows: list[Any], *, deadline: float) -> Stored:
        """Hand rows to the writer and wait, at most `deadline` seconds, for their commit."""
        future = await self.writer().write(key, rows)
        try:
            # On time-out the future is cancelled; the writer still commits the rows (a retry
            # then finds them) and simply has no one left to tell.
            async with asyncio.timeout(deadline):
                await future
        except TimeoutError:
            logger.warning("rows of %s not committed within %.1f s", key, deadline)
            return Stored.LATE
        except Exception:  # already logged by the writer
            return Stored.FAILED
        return Stored.COMMITTED

    def close(self) -> None:
        self.release_connections(stop=True)

    def release_connections(self, *, stop: bool = False) -> None:
        """Close every database connection the edge holds (threads and event-loop writers), e.g.
        when a test server stops; the edge reconnects on its next request unless `stop`."""
        release_connections(self._committers, self._run_db, self._run_lookup, stop=stop)
        self._writers.clear()
