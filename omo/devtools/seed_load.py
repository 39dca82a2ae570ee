"""Writing the demo's customer chunks: id ranges, worker processes, COPY, indexes.

Every chunk has its own block of ids in each streamed table, reserved up front by moving the
table's id sequence past all of them (`setval` on PostgreSQL, `sqlite_sequence` on SQLite), so a
chunk's rows carry their foreign keys without reading anything back, and whoever writes chunk 7
writes the same rows.

On PostgreSQL outside a transaction, N worker processes (default: one per core) fork from the
seeder, take the next chunk, generate it and COPY it over their own connection in their own
transaction. Elsewhere (SQLite, or inside a caller's transaction as in tests) chunks are written in
order by this process, with a writer thread when there is no caller's transaction.

The bulk-load mode (`fast`, PostgreSQL, medium and up) also drops the secondary indexes and the
unique constraints of the streamed tables (when no other brand has rows in them), turns autovacuum
off on them for the load, and afterwards builds the indexes again several at a time, one per
connection, re-attaches the constraints to their rebuilt indexes and analyzes the tables.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from omo.devtools.seed_copy import copy_text, rows_for_sqlite
from omo.devtools.seed_plan import COUNTERS, TABLES, ChunkRows, StreamPlan, hard_limits, strides
from omo.devtools.seed_stream import ChunkGenerator


class LoadError(Exception):
    """A worker failed; the message carries its traceback."""


@dataclass
class Table:
    """A streamed table: the columns the generator writes, then any other column at its default."""

    key: str
    model: type[models.Model]
    attnames: tuple[str, ...]
    columns: list[str] = field(init=False)
    tail: str = field(init=False)  # COPY text of the defaults, appended to every row

    def __post_init__(self) -> None:
        by_attname = {f.attname: f for f in self.model._meta.concrete_fields}
        missing = [a for a in self.attnames if a not in by_attname]
        if missing:
            raise LoadError(f"{self.model.__name__} has no field(s) {missing}")
        self.columns = [_column(by_attname[a]) for a in self.attnames]
        tail = []
        # Fields other engineers add later get their model default, so the raw load keeps working.
        for f in self.model._meta.concrete_fields:
            if f.attname in self.attnames:
                continue
            value = f.get_default()
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = timezone.now()
            self.columns.append(_column(f))
            tail.append(copy_text(f.get_db_prep_save(value, connection)))
        self.tail = "".join("\t" + value for value in tail)

    @property
    def db_table(self) -> str:
        return self.model._meta.db_table

    def copy_sql(self) -> str:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        return f'COPY "{self.db_table}" ({cols}) FROM STDIN'

    def insert_sql(self) -> str:
        cols = ", ".join(f'"{c}"' for c in self.columns)
        marks = ", ".join(["%s"] * len(self.columns))
        return f'INSERT INTO "{self.db_table}" ({cols}) VALUES ({marks})'


def _column(f: models.Field) -> str:
    assert f.column is not None  # Django calls a field concrete when it has a column
    return f.column


def reserve_ids(db_table: str, n: int) -> int:
    """Move the table's id sequence past n ids and return the first of them.

    Rows inserted by anyone else meanwhile take ids after the block; gaps are harmless.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [db_table, db_table, n],
            )
            return cursor.fetchone()[0] - n + 1
        # AUTOINCREMENT never hands out a rowid at or below sqlite_sequence.seq, so moving seq
        # reserves the block (SQLite's setval).
        with transaction.atomic():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [db_table])
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{db_table}"')  # noqa: S608
                start = cursor.fetchone()[0]
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [db_table, start + n]
                )
            else:
                start = row[0]
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [start + n, db_table])
        return start + 1


@dataclass
class Layout:
    """Where chunk k's ids and numbers start: table base + k * stride, counter k * stride."""

    plan: StreamPlan
    tables: dict[str, Table]
    id_base: dict[str, int] = field(default_factory=dict)
    stride: dict[str, int] = field(init=False)
    hard: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.stride = strides(self.plan)
        self.hard = hard_limits(self.plan)

    def reserve(self) -> None:
        n = self.plan.chunks
        self.id_base = {key: reserve_ids(self.tables[key].db_table, n * self.stride[key]) for key in TABLES}

    def ids(self, index: int) -> dict[str, int]:
        return {key: self.id_base[key] + index * self.stride[key] for key in TABLES}

    def counters(self, index: int) -> dict[str, int]:
        return {key: index * self.stride[key] for key in COUNTERS}

    def generate(self, generator: ChunkGenerator, index: int, log: Callable[[str], None]) -> ChunkRows:
        """Chunk `index`; in the (never yet seen) case it outgrows its blocks, generated again with
        ids from a fresh block of the sequence and numbers from a region past every chunk's."""
        ids, counters = self.ids(index), self.counters(index)
        rows = generator.generate(index, ids, counters)
        over = [key for key, used in rows.used.items() if used > self.stride[key]]
        if not over:
            return rows
        log(f"chunk {index} needs more room for {', '.join(over)} than planned; ids from a new block")
        for key in over:
            if key in ids:
                ids[key] = reserve_ids(self.tables[key].db_table, rows.used[key])
            else:
                counters[key] = self.plan.chunks * self.stride[key] + index * self.hard[key]
        return generator.generate(index, ids, counters)


# --- writing one chunk --------------------------------------------------------------------------------


def write_chunk(tables: dict[str, Table], rows: ChunkRows) -> None:
    """One chunk in one transaction: COPY on PostgreSQL, executemany elsewhere."""
    with transaction.atomic(), connection.cursor() as cursor:
        for key in TABLES:
            text = rows.text[key]
            if not text:
                continue
            table = tables[key]
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(table.copy_sql()) as copy:
                    copy.write(text)
            else:
                cursor.executemany(table.insert_sql(), rows_for_sqlite(text))


def bulk_session(on: bool) -> None:
    """PostgreSQL session settings of the bulk load (no-op elsewhere).

    Losing the last few commits in a crash is fine for generated data, and waiting for each WAL
    flush is not. Foreign-key triggers are skipped as pg_restore --disable-triggers does: the rows
    are consistent by construction (tiny and small runs keep the checks and the tests prove it).
    Without superuser rights the checks simply stay on: slower, same result.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if on:
            cursor.execute("SET synchronous_commit = off")
        else:
            cursor.execute("RESET synchronous_commit")
            cursor.execute("RESET session_replication_role")
    if on:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")
        except DatabaseError:
            pass


@dataclass
class LoadResult:
    chunks: int = 0
    customers: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    coupon_uses: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    workers: int = 0

    def add(
        self, index: int, customers: int, used: dict[str, int], uses: dict[str, int], totals: dict[str, int]
    ) -> None:
        self.chunks += 1
        self.customers += customers
        for key in TABLES:
            self.rows[key] += used[key]
        for key, value in uses.items():
            self.coupon_uses[key] = self.coupon_uses.get(key, 0) + value
        for key, value in totals.items():
            self.totals[key] = self.totals.get(key, 0) + value


# --- in this process ---------------------------------------------------------------------------------


def load_in_process(
    layout: Layout, *, fast: bool, on_chunk: Callable[[int], None], log: Callable[[str], None]
) -> LoadResult:
    """Chunks in order. A writer thread (own connection) overlaps the database with generating,
    unless we are inside the caller's transaction, whose rows another connection could not see."""
    generator = ChunkGenerator(layout.plan)
    result = LoadResult(workers=1)
    threaded = not connection.in_atomic_block
    if not threaded:
        if fast:
            bulk_session(True)
        try:
            for index in range(layout.plan.chunks):
                rows = layout.generate(generator, index, log)
                write_chunk(layout.tables, rows)
                result.add(index, rows.customers, rows.used, rows.coupon_uses, rows.totals)
                on_chunk(rows.customers)
        finally:
            if fast:
                bulk_session(False)
        return result

    # One chunk written, one waiting: memory stays flat. None: no more chunks.
    pending: queue.Queue[ChunkRows | None] = queue.Queue(maxsize=1)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            if fast:
                bulk_session(True)
            while (rows := pending.get()) is not None:
                if not errors:
                    try:
                        write_chunk(layout.tables, rows)
                    except BaseException as exc:  # surfaced in the generating thread
                        errors.append(exc)
        finally:
            connection.close()  # this thread's own connection; its session settings go with it

    thread = threading.Thread(target=writer, name="seed-writer", daemon=True)
    thread.start()
    try:
        for index in range(layout.plan.chunks):
            if errors:
                break
            rows = layout.generate(generator, index, log)
            pending.put(rows)
            result.add(index, rows.customers, rows.used, rows.coupon_uses, rows.totals)
            on_chunk(rows.customers)
    finally:
        pending.put(None)
        thread.join()
    if errors:
        raise errors[0]
    return result


# --- in worker processes ------------------------------------------------------------------------------


def _worker(layout: Layout, fast: bool, next_chunk: Any, results: Any) -> None:
    """A forked worker: takes chunks until none is left, each generated and COPYed in its own transaction."""
    try:
        if fast:
            bulk_session(True)
        generator = ChunkGenerator(layout.plan)
        while True:
            with next_chunk.get_lock():
                index = next_chunk.value
                next_chunk.value += 1
            if index >= layout.plan.chunks:
                break
            rows = layout.generate(generator, index, lambda message: results.put(("log", message)))
            write_chunk(layout.tables, rows)
            results.put(("chunk", index, rows.customers, rows.used, rows.coupon_uses, rows.totals))
            del rows
    except BaseException:
        results.put(("error", traceback.format_exc()))
    finally:
        try:
            connection.close()
        finally:
            results.put(("done", os.getpid()))


def load_in_workers(
    layout: Layout,
    *,
    workers: int,
    fast: bool,
    on_chunk: Callable[[int], None],
    log: Callable[[str], None],
) -> LoadResult:
    """Chunks shared by `workers` forked processes, each with its own connection."""
    workers = max(1, min(workers, layout.plan.chunks))
    result = LoadResult(workers=workers)
    # The children must not share this process's connection: close it, they open their own.
    connection.close()
    context = multiprocessing.get_context("fork")
    next_chunk = context.Value("l", 0)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(layout, fast, next_chunk, results), name=f"seed-worker-{n}")
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    finished = 0
    failure: str | None = None

    def stop_the_others() -> None:
        with next_chunk.get_lock():
            next_chunk.value = layout.plan.chunks

    def handle(message: tuple) -> None:
        nonlocal finished, failure
        kind = message[0]
        if kind == "chunk":
            _, index, customers, used, uses, totals = message
            result.add(index, customers, used, uses, totals)
            on_chunk(customers)
        elif kind == "log":
            log(message[1])
        elif kind == "error":
            failure = failure or message[1]
            stop_the_others()  # rather than after the whole load
        elif kind == "done":
            finished += 1

    try:
        while finished < len(processes):
            try:
                handle(results.get(timeout=1.0))
            except queue.Empty:
                # A worker killed from outside (out of memory, a signal) says nothing: notice it.
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead and failure is None:
                    failure = f"seed worker {dead[0].name} ended with exit code {dead[0].exitcode}"
                    stop_the_others()
                if all(p.exitcode is not None for p in processes):
                    while True:  # what the last ones said before they went
                        try:
                            handle(results.get(timeout=0.1))
                        except queue.Empty:
                            break
                    break
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
                process.join()
        results.close()
    if failure is not None:
        raise LoadError(failure)
    if result.chunks != layout.plan.chunks:
        raise LoadError(f"only {result.chunks} of {layout.plan.chunks} chunks were written")
    return result


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# --- indexes, constraints, autovacuum ------------------------------------------------------------------


@dataclass
class _Index:
    name: str
    table: str
    definition: str
    constraint: str  # "" or the ALTER TABLE … ADD CONSTRAINT … USING INDEX statement
    weight: float


class BulkLoadSchema:
    """Take the streamed tables' secondary indexes, unique constraints and autovacuum away for a
    bulk load, and give them back after it, even when the load fails.

    Building an index once from the loaded rows is far cheaper than keeping it up to date through
    millions of inserts in random key order (pg_restore loads the same way). Primary keys stay:
    their ids only grow. Only used when the tables hold no other brand's rows.
    """

    def __init__(self, tables: list[str]):
        self.tables = tables
        self.indexes: list[_Index] = []
        self.autovacuum_off: list[str] = []

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, c.relname, pg_get_indexdef(i.indexrelid),
                       k.conname, k.condeferrable, k.condeferred,
                       (SELECT am.amname FROM pg_class x JOIN pg_am am ON am.oid = x.relam
                        WHERE x.oid = i.indexrelid),
                       i.indnatts
                FROM pg_index i
                JOIN pg_class c ON c.oid = i.indrelid
                LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                    AND k.contype IN ('p', 'u', 'x')
                WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
                  AND NOT i.indisprimary
                  AND (k.oid IS NULL OR k.contype = 'u')
                  -- a foreign key that references this index keeps it
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid
                  )
                """,
                [self.tables],
            )
            for name, table, definition, conname, deferrable, deferred, method, columns in cursor.fetchall():
                constraint = ""
                if conname:
                    constraint = (
                        f'ALTER TABLE "{table}" ADD CONSTRAINT "{conname}" UNIQUE USING INDEX "{conname}"'
                    )
                    if deferrable:
                        constraint += " DEFERRABLE INITIALLY " + ("DEFERRED" if deferred else "IMMEDIATE")
                # Relative cost of building it (for the order of the parallel rebuild): trigram GIN
                # indexes are several times a b-tree's, wide keys cost more than narrow ones.
                weight = (6.0 if method == "gin" else 1.0) * (0.6 + 0.4 * columns)
                self.indexes.append(_Index(name, table, definition, constraint, weight))
            for index in self.indexes:
                if index.constraint:
                    cursor.execute(f'ALTER TABLE "{index.table}" DROP CONSTRAINT "{index.name}"')
                else:
                    cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relnamespace = 'public'::regnamespace"
                " AND NOT COALESCE(reloptions, '{}') && ARRAY['autovacuum_enabled=false', 'autovacuum_enabled=off']",
                [self.tables],
            )
            self.autovacuum_off = [row[0] for row in cursor.fetchall()]
            for table in self.autovacuum_off:
                # Autovacuum would scan tables that grow by millions of rows a minute: do it later.
                cursor.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')

    def restore(self, *, sessions: int, log: Callable[[str], None]) -> None:
        """Build the indexes on `sessions` connections at once, biggest first; then the constraints,
        autovacuum and fresh statistics."""
        started = time.perf_counter()
        sizes = _table_pages(self.tables)
        tasks = sorted(self.indexes, key=lambda index: -index.weight * sizes.get(index.table, 1))
        statements = [
            index.definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1) for index in tasks
        ]
        statements = [
            s.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX IF NOT EXISTS ", 1) for s in statements
        ]
        # No parallel helpers per build: the sessions are the parallelism, and helpers would only
        # fight them for the same cores. Sort memory stays at 64 MB a session: measured on 3.5M
        # order lines, 16-64 MB (sorted runs that fit the CPU caches, then merged) builds as fast
        # as or faster than 256-512 MB (one big in-memory sort), for b-tree and trigram alike.
        settings = ["SET maintenance_work_mem = '64MB'", "SET max_parallel_maintenance_workers = 0"]
        errors = _run_parallel(statements, sessions=sessions, settings=settings)
        log(
            f"built {len(statements)} indexes in {time.perf_counter() - started:.0f} s ({sessions} at a time)"
        )
        # Whatever failed above, give back everything that can be given back, then say what failed.
        with connection.cursor() as cursor:
            for statement in [index.constraint for index in tasks if index.constraint] + [
                f'ALTER TABLE "{table}" RESET (autovacuum_enabled)' for table in self.autovacuum_off
            ]:
                try:
                    with transaction.atomic():
                        cursor.execute(statement)
                except DatabaseError as exc:
                    errors.append(exc)
        self.indexes, self.autovacuum_off = [], []
        if errors:
            raise errors[0]


def _table_pages(tables: list[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_relation_size(oid) / 8192 FROM pg_class"
            " WHERE relname = ANY(%s) AND relnamespace = 'public'::regnamespace",
            [tables],
        )
        return {name: pages for name, pages in cursor.fetchall()}


def analyze(tables: list[str], *, sessions: int) -> None:
    """Fresh planner statistics for the loaded tables, several tables at a time on PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    sizes = _table_pages(tables)
    ordered = sorted(tables, key=lambda table: -sizes.get(table, 0))
    errors = _run_parallel([f'ANALYZE "{table}"' for table in ordered], sessions=sessions, settings=[])
    if errors:
        raise errors[0]


def _run_parallel(statements: list[str], *, sessions: int, settings: list[str]) -> list[BaseException]:
    """Run statements on up to `sessions` connections at once (threads, each with its own
    connection; the work is the server's, so the GIL does not matter), in the given order, all of
    them even when some fail; returns the failures. Inside a transaction: in it, one by one."""
    errors: list[BaseException] = []
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        return errors
    pending: queue.Queue[str] = queue.Queue()
    for statement in statements:
        pending.put(statement)

    def session() -> None:
        try:
            with connection.cursor() as cursor:
                for setting in settings:
                    cursor.execute(setting)
                while True:
                    try:
                        statement = pending.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        cursor.execute(statement)
                    except DatabaseError as exc:
                        errors.append(exc)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=session, name=f"seed-ddl-{n}")
        for n in range(max(1, min(sessions, len(statements))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
