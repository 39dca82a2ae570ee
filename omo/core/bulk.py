"""Inserting many model rows at once: COPY on PostgreSQL, bulk_create elsewhere.

Django's bulk_create compiles every value through the field's `get_db_prep_save` and sends the
rows as arrays that the driver dumps element by element in Python; for a batch of orders that was
a third of the request. On PostgreSQL `insert` instead reserves the primary keys it needs from the
table's sequence (`nextval`, one statement) and streams the rows with COPY, which psycopg formats
in C. The instances come back as bulk_create leaves them: with their ids, saved (`_state.adding`
False). A constraint violation raises django.db.IntegrityError on every database, so callers keep
their `except IntegrityError` fallbacks.

On SQLite, from the same number of rows, the rows go in with one `executemany` of a prepared
INSERT: values pass through as the sqlite3 module binds them (ints, strings, bools), datetimes
and dates the way Django's SQLite backend adapts them, anything else through its field's
`get_db_prep_save`; the ids are read back from `last_insert_rowid()` (the writer holds SQLite's
one write lock, so a statement's rows are numbered one after the other). That skips the ORM's
per-value compilation, most of bulk_create's cost there.

What it does not do, unlike bulk_create: call `pre_save` on fields other than auto_now(_add),
signals (none are used for these models), or conflict handling. Values must already be what the
column stores (tz-aware datetimes, ints, strings; JSON fields as Python values).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.utils import timezone

M = TypeVar("M", bound=models.Model)

# Below this many rows bulk_create's one INSERT costs less than the extra round trips.
COPY_MIN_ROWS = 20


@functools.cache
def _template(
    model: type[models.Model],
) -> tuple[tuple[str, ...], dict[str, Any], tuple[tuple[str, Any], ...]]:
    """(attnames in column order, constant defaults, (attname, factory) for callable defaults)."""
    names, constants, factories = [], {}, []
    for field in model._meta.concrete_fields:
        names.append(field.attname)
        if field.has_default() and callable(field.default):
            factories.append((field.attname, field.default))
        else:
            constants[field.attname] = field.get_default()
    return tuple(names), constants, tuple(factories)


def new(model: type[M], values: dict[str, Any]) -> M:
    """An unsaved instance from column values by attname (`store_id`, not `store`), the others at
    their defaults, as Model(**values) makes it. Positional construction: a fraction of the cost of
    keyword construction, which matters at thousands of rows per request."""
    names, constants, factories = _template(model)
    merged = {**constants, **{name: factory() for name, factory in factories if name not in values}, **values}
    if len(merged) != len(names):
        unknown = sorted(set(values) - set(names))
        raise TypeError(f"{model.__name__} has no column {unknown[0]!r}")
    return model(*map(merged.__getitem__, names))


def int_array(values: Sequence[int | None]) -> str:
    """A PostgreSQL array literal of integers, for a `%s::bigint[]` parameter. A list parameter is
    dumped element by element in Python by the client-side cursor Django uses; one string is not."""
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def copy_supported() -> bool:
    return connection.vendor == "postgresql"


# --- SQLite: one executemany of a prepared INSERT ----------------------------------------------

_PASS_THROUGH = (models.IntegerField, models.BooleanField, models.CharField, models.TextField)


def _sqlite_adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of `field` is bound on SQLite, as get_db_prep_save would (None: as it is)."""
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        return None if isinstance(target, models.IntegerField) else _prep(field)
    if isinstance(field, _PASS_THROUGH):
        return None
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        slow = _prep(field)
        return lambda value: adapt(value) if value is None or value.tzinfo is not None else slow(value)
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    return _prep(field)


def _prep(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    return lambda value: field.get_db_prep_save(value, connection)


def _sqlite_insert(
    model: type[models.Model], fields: list[models.Field[Any, Any]], records: Sequence[dict[str, Any]]
) -> int:
    """Insert the records (dicts by attname) in order; the id of the first (the others follow)."""
    adapters = [(f.attname, _sqlite_adapter(f)) for f in fields]
    plain = [name for name, adapt in adapters if adapt is None]
    rows = (
        [[values[name] for name in plain] for values in records]
        if len(plain) == len(adapters)
        else [
            [values[name] if adapt is None else adapt(values[name]) for name, adapt in adapters]
            for values in records
        ]
    )
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(column_of(f)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with transaction.atomic(), connection.cursor() as cursor:  # all rows or none, like one INSERT
        cursor.executemany(sql, rows)
        cursor.execute("SELECT last_insert_rowid()")
        last = int(cursor.fetchone()[0])
    return last - len(records) + 1


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys from the table's sequence (PostgreSQL). Each `nextval` is atomic, so
    concurrent callers never get the same id; the ids need not be consecutive."""
    if count <= 0:
        return []
    table = model._meta.db_table
    column = column_of(model._meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def column_of(field: models.Field[Any, Any]) -> str:
    """The database column of a concrete field (the stubs allow None, for fields without one)."""
    column = field.column
    if column is None:
        raise TypeError(f"{field} has no column")
    return column


def _columns(model: type[models.Model], with_pk: bool) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


def _copy(
    model: type[models.Model], fields: list[models.Field[Any, Any]], records: Iterable[dict[str, Any]]
) -> None:
    """COPY the records (each a dict by attname: an instance's __dict__ or a row) into the table."""
    json_fields = {f.attname: f for f in fields if isinstance(f, models.JSONField)}
    attnames = [f.attname for f in fields]
    columns = ", ".join(connection.ops.quote_name(column_of(f)) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            if not json_fields:
                for values in records:
                    write([values[name] for name in attnames])
                return
            for values in records:
                row = []
                for name in attnames:
                    value = values[name]
                    field = json_fields.get(name)
                    if field is not None and value is not None:
                        value = json.dumps(value, cls=field.encoder)
                    row.append(value)
                write(row)


@functools.cache
def _auto_now(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(
        f
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    )


def insert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    need_ids: bool = True,
    sort_key: Callable[[Any], Any] | None = None,
) -> None:
    """Insert the unsaved instances `objs` (all fields set, pk None or given).

    With `need_ids` False and no pk given, PostgreSQL fills the ids itself and the instances keep
    `pk` None (for rows nobody reads back, such as order lines). With `sort_key` the rows are
    written in that order (through COPY the ids still follow `objs`; bulk_create numbers them as
    written): writers that may insert the same unique keys at once then wait for each other in
    one order instead of deadlocking."""
    if not objs:
        return
    if connection.vendor == "sqlite" and len(objs) >= COPY_MIN_ROWS and all(obj.pk is None for obj in objs):
        for obj in objs:
            for field in _auto_now(model):
                field.pre_save(obj, add=True)
        ordered = sorted(objs, key=sort_key) if sort_key is not None else objs
        first = _sqlite_insert(model, _columns(model, False), [obj.__dict__ for obj in ordered])
        db = connection.alias
        for offset, obj in enumerate(ordered):
            obj.pk = first + offset
            obj._state.adding = False
            obj._state.db = db
        return
    if not copy_supported() or len(objs) < COPY_MIN_ROWS:
        model._default_manager.bulk_create(
            sorted(objs, key=sort_key) if sort_key is not None else objs, batch_size=1000
        )
        return
    auto = _auto_now(model)
    for obj in objs:
        for field in auto:
            field.pre_save(obj, add=True)
    missing = [obj for obj in objs if obj.pk is None]
    with_pk = need_ids or len(missing) < len(objs)
    if with_pk and missing:
        for obj, pk in zip(missing, reserve_ids(model, len(missing)), strict=True):
            obj.pk = pk
    ordered = sorted(objs, key=sort_key) if sort_key is not None else objs
    _copy(model, _columns(model, with_pk), (obj.__dict__ for obj in ordered))
    db = connection.alias
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db


def _records(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with every column: the model's defaults, auto_now fields at now."""
    names, constants, factories = _template(model)
    now = timezone.now()
    stamps = {f.attname: now if isinstance(f, models.DateTimeField) else now.date() for f in _auto_now(model)}
    records = []
    for row in rows:
        record = {
            **constants,
            **{name: factory() for name, factory in factories if name not in row},
            **row,
            **stamps,
        }
        if len(record) != len(names):
            unknown = sorted(set(row) - set(names))
            raise TypeError(f"{model.__name__} has no column {unknown[0]!r}")
        records.append(record)
    return records


def insert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    need_ids: bool = True,
    sort_key: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """`insert` for rows nobody needs as model instances, given as {attname: value} (the others at
    their defaults, auto_now fields at now): through COPY no instance is built at all (building
    one costs more than writing it). With `need_ids` each dict gets its primary key."""
    if not rows:
        return
    pk_name = model._meta.pk.attname
    ordered = sorted(rows, key=sort_key) if sort_key is not None else rows
    if (
        connection.vendor == "sqlite"
        and len(rows) >= COPY_MIN_ROWS
        and all(row.get(pk_name) is None for row in rows)
    ):
        records = _records(model, ordered)
        first = _sqlite_insert(model, _columns(model, False), records)
        for offset, row in enumerate(ordered):
            row[pk_name] = first + offset
        return
    if not copy_supported() or len(rows) < COPY_MIN_ROWS:
        objs = [new(model, row) for row in ordered]
        insert(model, objs, need_ids=need_ids)
        for row, obj in zip(ordered, objs, strict=True):
            if obj.pk is not None:
                row[pk_name] = obj.pk
        return
    records = _records(model, rows)
    missing = [(row, record) for row, record in zip(rows, records, strict=True) if record[pk_name] is None]
    with_pk = need_ids or len(missing) < len(records)
    if with_pk and missing:
        for (row, record), pk in zip(missing, reserve_ids(model, len(missing)), strict=True):
            row[pk_name] = record[pk_name] = pk
    _copy(model, _columns(model, with_pk), sorted(records, key=sort_key) if sort_key is not None else records)
