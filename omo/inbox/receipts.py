"""Webhook receipts: storing platform events as received, and their life from pending to done.

A platform's webhook edge (omo/platforms/edge.py) stores each event as a WebhookReceipt, unique per
(inbox, event id), or, while a processing task already waits, each request whole as a
WebhookIntake. The platform's processing task (omo/platforms/tasks.py) then splits the intakes into
receipts, claims each pending receipt and records what became of it. The platforms parse and apply
the events; this module owns the rows.

These are the webhook's hot path: every verb is one statement (or one per chunk), and a claim or
an intake batch is taken with SKIP LOCKED on PostgreSQL so several workers share the work (SQLite
has one writer anyway).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from omo.core import bulk
from omo.inbox.models import Inbox, WebhookIntake, WebhookReceipt

logger = logging.getLogger(__name__)

INTAKE_CHUNK = 200  # requests split into receipts per transaction (up to ~1,000 LINE events)
INSERT_CHUNK = 500  # rows per statement: 4,000 parameters, well under PostgreSQL's and SQLite's limits
MAX_ERROR = 4000


class StoredEvent(Protocol):
    """One platform event as a receipt stores it (omo.platforms.base.ReceiptRow)."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...


ReceiptEntry = tuple[int, StoredEvent, dt.datetime]  # (inbox id, event, received at)

# What a request body holds: its events, or ValueError / UnicodeDecodeError when it does not parse.
SplitBody = Callable[[bytes], Sequence[StoredEvent]]


# --- storing ---------------------------------------------------------------------------------------------

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


def insert_receipts(rows: Sequence[ReceiptEntry]) -> None:
    """Insert receipts, skipping a redelivered (inbox, event id): a no-op, not an error.

    Plain SQL on purpose (measured, see ADR 003): the ORM's bulk_create spent most of its time
    building model instances and preparing every field in Python.
    """
    if connection.vendor == "postgresql":
        _insert_receipts_postgres(rows)
    else:
        _insert_receipts_values(rows)


def _table_and_columns(model: type[Model], names: Sequence[str]) -> tuple[str, str]:
    """The quoted table name and the quoted columns of these fields, comma-separated."""
    ops = connection.ops
    fields = {field.name: field for field in model._meta.concrete_fields}
    columns = ", ".join(ops.quote_name(bulk.column_of(fields[name])) for name in names)
    return ops.quote_name(model._meta.db_table), columns


def _receipt_table() -> tuple[str, str]:
    return _table_and_columns(WebhookReceipt, RECEIPT_FIELDS)


@functools.cache
def _unnest_insert_sql() -> str:
    table, columns = _receipt_table()
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from _meta
        "SELECT (r->>0)::bigint, r->>1, r->>2, (r->>3)::timestamptz, (r->4)::jsonb, %b, '', (r->>5)::timestamptz "
        "FROM json_array_elements(%b::json) AS r "
        "ON CONFLICT DO NOTHING"
    )


def _insert_receipts_postgres(rows: Sequence[ReceiptEntry]) -> None:
    """One fixed statement whatever the batch size: the rows as one JSON array, unpacked by the server.

    The statement text never changes, so psycopg parses it once and prepares it on the server.
    The whole batch is one orjson call (payloads as they are, times as ISO-8601): measured against
    five binary arrays (psycopg dumps arrays element by element in Python, then the edge's largest
    cost after the request itself) and, before that, a multi-row VALUES statement that psycopg
    re-split for every batch (8 parameters a row).
    """
    import psycopg  # only on PostgreSQL

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_unnest_insert_sql(), _unnest_params(rows), prepare=True)


def _unnest_params(rows: Sequence[ReceiptEntry]) -> list[Any]:
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


def _insert_receipts_values(rows: Sequence[ReceiptEntry]) -> None:
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


@functools.cache
def intake_insert_sql() -> str:
    """The statement that stores whole requests as intakes: three arrays (inbox ids, raw bodies,
    times received), one row per request (PostgreSQL; the edge's event-loop writer)."""
    table, columns = _table_and_columns(WebhookIntake, ("inbox", "body", "received_at"))
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from _meta
        "SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::timestamptz[])"
    )


# --- splitting intakes into receipts ---------------------------------------------------------------------


def expand_intakes(inbox: Inbox, split: SplitBody, *, chunk: int = INTAKE_CHUNK) -> int:
    """Split the requests stored whole (WebhookIntake) into receipts, one per event.

    A repeated event id is a no-op, as at the edge. Each chunk is one transaction: its receipts
    are inserted and its intakes deleted together; SKIP LOCKED lets two workers share the work.
    A body that no longer parses (the edge checked it, so only after a change of the parser) is
    kept as a failed receipt holding the body, never dropped. Returns the requests expanded."""
    done = 0
    while True:
        with transaction.atomic():
            intakes = WebhookIntake.objects.filter(inbox_id=inbox.pk).order_by("id")
            if connection.features.has_select_for_update_skip_locked:
                intakes = intakes.select_for_update(skip_locked=True)
            batch = list(intakes.values_list("id", "body", "received_at")[:chunk])
            if not batch:
                return done
            entries: list[ReceiptEntry] = []
            for intake_id, body, received_at in batch:
                try:
                    rows = split(bytes(body))
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
            "error": f"the stored request does not parse: {exc}"[:MAX_ERROR],
            "processed_at": timezone.now(),
        },
    )


# --- a receipt's life ------------------------------------------------------------------------------------


def claim_pending(receipt_id: int) -> WebhookReceipt | None:
    """The receipt, locked until the caller's transaction ends, while it is still pending; None when
    it is done or another worker holds it (SKIP LOCKED). Call inside a transaction."""
    queryset = WebhookReceipt.objects.filter(pk=receipt_id, status=WebhookReceipt.Status.PENDING)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return queryset.first()


def record_outcome(receipt: WebhookReceipt, *, status: str, note: str) -> None:
    """What became of a claimed receipt ("processed" or "ignored"), in the claim's transaction."""
    receipt.status = status
    receipt.error = note
    receipt.processed_at = timezone.now()
    receipt.save(update_fields=["status", "error", "processed_at"])


def mark_failed(receipt_id: int, *, error: str) -> bool:
    """A receipt whose processing raised: failed, with the error, unless another worker finished it."""
    updated = WebhookReceipt.objects.filter(pk=receipt_id, status=WebhookReceipt.Status.PENDING).update(
        status=WebhookReceipt.Status.FAILED, error=error[-MAX_ERROR:], processed_at=timezone.now()
    )
    return updated == 1


def requeue_failed(inbox_id: int) -> int:
    """Put the inbox's failed receipts back to pending (after a fix); returns how many. The caller
    schedules their processing in the same transaction."""
    return WebhookReceipt.objects.filter(inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED).update(
        status=WebhookReceipt.Status.PENDING, error="", processed_at=None
    )
