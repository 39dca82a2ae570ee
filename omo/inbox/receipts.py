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
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from omo.core import bulk
from omo.inbox import quarantine_reasons as reasons
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
    A request that cannot be split or stored (a body that no longer parses, an event the database
    refuses) is quarantined: kept with the reason, out of the way of the others, until someone
    retries or discards it (omo/platforms/quarantine.py). Returns the requests taken."""
    done = 0
    while True:
        with transaction.atomic():
            intakes = WebhookIntake.objects.filter(inbox_id=inbox.pk, failed_at__isnull=True).order_by("id")
            if connection.features.has_select_for_update_skip_locked:
                intakes = intakes.select_for_update(skip_locked=True)
            batch = list(intakes.values_list("id", "body", "received_at")[:chunk])
            if not batch:
                return done
            split_ok: list[tuple[int, list[ReceiptEntry]]] = []
            for intake_id, body, received_at in batch:
                try:
                    rows = split(bytes(body))
                except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                    logger.error("webhook intake %s of inbox %s does not parse: %s", intake_id, inbox.pk, exc)
                    quarantine_intake(intake_id, reasons.encode(reasons.UNPARSEABLE, detail=_first_line(exc)))
                    continue
                split_ok.append((intake_id, [(inbox.pk, row, received_at) for row in rows]))
            stored = _insert_each_or_quarantine(split_ok)
            WebhookIntake.objects.filter(pk__in=stored).delete()
        done += len(batch)


def _insert_each_or_quarantine(requests: list[tuple[int, list[ReceiptEntry]]]) -> list[int]:
    """Insert the receipts of these requests at once; when the database refuses, request by request,
    quarantining the ones it refuses. Returns the requests whose receipts are stored."""
    try:
        with transaction.atomic():
            insert_receipts([entry for _, entries in requests for entry in entries])
        return [intake_id for intake_id, _ in requests]
    except Exception:  # noqa: BLE001 — whatever the database says, one request must not block the rest
        logger.warning(
            "storing %d webhook requests together failed; one by one", len(requests), exc_info=True
        )
    stored = []
    for intake_id, entries in requests:
        try:
            with transaction.atomic():
                insert_receipts(entries)
        except Exception as exc:  # noqa: BLE001
            logger.exception("webhook intake %s could not be stored as receipts", intake_id)
            quarantine_intake(intake_id, failure_reason(exc, reasons.NOT_STORED))
        else:
            stored.append(intake_id)
    return stored


def quarantine_intake(intake_id: int, reason: str) -> None:
    WebhookIntake.objects.filter(pk=intake_id).update(failed_at=timezone.now(), error=storable_error(reason))


def delete_quarantined_intakes_holding(inbox_id: int, user_ids: list[bytes]) -> int:
    """Delete the inbox's quarantined requests whose raw body holds any of these platform user ids
    (an erasure: a request that could not be split cannot be scrubbed, so it goes whole)."""
    deleted = 0
    for intake_id, body in WebhookIntake.objects.filter(
        inbox_id=inbox_id, failed_at__isnull=False
    ).values_list("id", "body"):
        if any(user_id in bytes(body) for user_id in user_ids):
            deleted += WebhookIntake.objects.filter(pk=intake_id).delete()[0]
    return deleted


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def failure_reason(exc: BaseException, what: str = reasons.PROCESSING_FAILED) -> str:
    """Why a row could not be processed, as a reason code with its facts (omo/inbox/quarantine_reasons.py);
    the page that lists it says it in a sentence of its own language."""
    text = str(exc)
    cause = getattr(exc, "__cause__", None)
    if (
        "\\u0000" in text
        or "0x00" in text
        or "NUL" in text
        or type(cause).__name__ == "UntranslatableCharacter"
    ):
        return reasons.encode(reasons.NUL_CODES[what])
    return reasons.encode(what, error=type(exc).__name__, detail=_first_line(exc))


def reason_of(error: str) -> str:
    """The first paragraph of a recorded failure: its reason (technical detail may follow)."""
    return error.split("\n\n", 1)[0].strip()


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
        status=WebhookReceipt.Status.FAILED, error=storable_error(error), processed_at=timezone.now()
    )
    return updated == 1


def storable_error(error: str) -> str:
    """An error as the database can keep it: no NUL (PostgreSQL refuses it in text), the sentence
    first and the end of the detail after it, within MAX_ERROR characters."""
    error = error.replace("\x00", "\\0")
    if len(error) <= MAX_ERROR:
        return error
    reason, _, detail = error.partition("\n\n")
    if not detail:
        return error[-MAX_ERROR:]  # one block of text: its end says most (a traceback's last line)
    reason = reason[:1000]
    return f"{reason}\n\n{detail[-(MAX_ERROR - len(reason) - 2) :]}"


def requeue_failed(inbox_id: int) -> int:
    """Put the inbox's failed receipts and quarantined intakes back in line (after a fix); returns
    how many. The caller schedules their processing in the same transaction."""
    intakes = WebhookIntake.objects.filter(inbox_id=inbox_id, failed_at__isnull=False).update(
        failed_at=None, error=""
    )
    return intakes + WebhookReceipt.objects.filter(
        inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED
    ).update(status=WebhookReceipt.Status.PENDING, error="", processed_at=None)


# --- quarantine: rows that could not be processed, set aside for people to retry or discard -------------

INTAKE = "intake"  # a request stored whole that could not be split into receipts
RECEIPT = "receipt"  # one event whose processing failed
KINDS = (INTAKE, RECEIPT)


@dataclass(frozen=True)
class Quarantined:
    kind: str
    id: int
    received_at: dt.datetime
    failed_at: dt.datetime | None
    event_type: str
    reason_code: str
    reason_params: dict[str, str]

    @property
    def reason(self) -> str:
        """Why, in a sentence of the active language."""
        return reasons.sentence(self.reason_code, self.reason_params)

    @property
    def event_label(self) -> str:
        """The platform's event type, in words."""
        return reasons.event_label(self.event_type)


def _quarantined(
    kind: str, pk: int, received_at: dt.datetime, failed_at: dt.datetime | None, event_type: str, error: str
) -> Quarantined:
    code, params = reasons.decode(reason_of(error))
    return Quarantined(kind, pk, received_at, failed_at, event_type, code, params)


def quarantined(inbox_id: int, *, limit: int = 100) -> tuple[int, list[Quarantined]]:
    """(how many, the newest `limit`) of the inbox's quarantined intakes and failed receipts."""
    intakes = WebhookIntake.objects.filter(inbox_id=inbox_id, failed_at__isnull=False)
    failed = WebhookReceipt.objects.filter(inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED)
    rows = [
        _quarantined(INTAKE, pk, received_at, failed_at, "", error)
        for pk, received_at, failed_at, error in intakes.order_by("-failed_at", "-id").values_list(
            "id", "received_at", "failed_at", "error"
        )[:limit]
    ] + [
        _quarantined(RECEIPT, pk, received_at, processed_at, event_type, error)
        for pk, received_at, processed_at, event_type, error in failed.order_by(
            "-processed_at", "-id"
        ).values_list("id", "received_at", "processed_at", "event_type", "error")[:limit]
    ]
    rows.sort(key=lambda row: (row.failed_at or row.received_at, row.id), reverse=True)
    return intakes.count() + failed.count(), rows[:limit]


def release(inbox_id: int, kind: str, row_id: int) -> bool:
    """Put a quarantined row back in line (the caller schedules processing in the same transaction)."""
    if kind == INTAKE:
        updated = WebhookIntake.objects.filter(pk=row_id, inbox_id=inbox_id, failed_at__isnull=False).update(
            failed_at=None, error=""
        )
    else:
        updated = WebhookReceipt.objects.filter(
            pk=row_id, inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED
        ).update(status=WebhookReceipt.Status.PENDING, error="", processed_at=None)
    return updated == 1


def discard(inbox_id: int, kind: str, row_id: int, *, note: str) -> bool:
    """Give up on a quarantined row: an intake is deleted (its raw body goes with it); a receipt is
    kept as ignored, with the note, so a redelivery of its event stays a no-op."""
    if kind == INTAKE:
        deleted, _ = WebhookIntake.objects.filter(
            pk=row_id, inbox_id=inbox_id, failed_at__isnull=False
        ).delete()
        return deleted == 1
    updated = WebhookReceipt.objects.filter(
        pk=row_id, inbox_id=inbox_id, status=WebhookReceipt.Status.FAILED
    ).update(status=WebhookReceipt.Status.IGNORED, error=note[:MAX_ERROR], processed_at=timezone.now())
    return updated == 1
