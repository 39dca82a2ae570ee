"""Inserting many model rows at once: COPY on PostgreSQL, bulk_create elsewhere.

Django's bulk_create compiles every value through the field's `get_db_prep_save` and sends the
rows as arrays that the driver dumps element by element in Python; for a batch of orders that was
a third of the request. On PostgreSQL `insert` instead reserves the primary keys it needs from the
table's sequence (`nextval`, one statement) and streams the rows with COPY, which psycopg formats
in C. The instances come back as bulk_create leaves them: with their ids, saved (`_state.adding`
False). A constraint violation raises django.db.IntegrityError on every database, so callers keep
their `except IntegrityError` fallbacks.

What it does not do, unlike bulk_create: call `pre_save` on fields other than auto_now(_add),
signals (none are used for these models), or conflict handling. Values must already be what the
column stores (tz-aware datetimes, ints, strings; JSON fields as Python values).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models
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
    if not copy_supported() or len(rows) < COPY_MIN_ROWS:
        objs = [new(model, row) for row in ordered]
        insert(model, objs, need_ids=need_ids)
        for row, obj in zip(ordered, objs, strict=True):
            if obj.pk is not None:
                row[pk_name] = obj.pk
        return
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
    missing = [(row, record) for row, record in zip(rows, records, strict=True) if record[pk_name] is None]
    with_pk = need_ids or len(missing) < len(records)
    if with_pk and missing:
        for (row, record), pk in zip(missing, reserve_ids(model, len(missing)), strict=True):
            row[pk_name] = record[pk_name] = pk
    _copy(model, _columns(model, with_pk), sorted(records, key=sort_key) if sort_key is not None else records)
