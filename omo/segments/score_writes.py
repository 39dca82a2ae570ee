"""Writing a chunk of customers' aggregates into `CustomerScore` (step 1 of a score run).

On PostgreSQL one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE` per chunk, each column
sent as one array literal (the driver formats one string in C instead of dumping every element in
Python, and no model instance is built): measured on a 2-core machine, 5,000 rows in ~0.3 s instead of
~1.6 s through `bulk_create(update_conflicts=True)`. Elsewhere (SQLite) `bulk_create` with the same
conflict rule. New rows start as prospects; the run's UPDATEs write their scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection

from omo.core import bulk
from omo.segments.models import CustomerScore

# A row is these values, in this order.
COLUMNS: tuple[str, ...] = (
    "brand_id",
    "customer_id",
    "orders",
    "spend",
    "orders_12m",
    "spend_12m",
    "first_order_at",
    "last_order_at",
    "recency_days",
    "channel_mix",
    "computed_at",
)
_PG_TYPES: tuple[str, ...] = ("bigint", "bigint", "integer", "bigint", "integer", "bigint")
_PG_TYPES += ("timestamptz", "timestamptz", "integer", "text", "timestamptz")
UPDATED: tuple[str, ...] = COLUMNS[2:]
# What a new row holds until the run's UPDATEs score it.
_NEW_ROW: tuple[tuple[str, str], ...] = (
    ("r", "0"),
    ("f", "0"),
    ("m", "0"),
    ("rfm_segment", "'prospect'"),
    ("value_group", "'potential'"),
)
_NEW_ROW += (("activity", "'prospect'"), ("top20", "false"))


def _array(values: Sequence[Any], kind: str) -> str:
    if kind in ("bigint", "integer"):
        return bulk.int_array(values)
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif isinstance(value, dt.datetime):
            items.append(f'"{value.isoformat()}"')
        else:  # the channel mix: one of a few plain words
            items.append('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


def _column(attname: str) -> str:
    (field,) = [f for f in CustomerScore._meta.concrete_fields if f.attname == attname]
    return bulk.column_of(field)


def upsert_aggregates(rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        CustomerScore.objects.bulk_create(
            [bulk.new(CustomerScore, dict(zip(COLUMNS, row, strict=True))) for row in rows],
            update_conflicts=True,
            unique_fields=["customer"],
            update_fields=list(UPDATED),
            batch_size=500,
        )
        return
    quote = connection.ops.quote_name
    meta = CustomerScore._meta
    columns = [_column(name) for name in COLUMNS]
    extra = ", ".join(quote(_column(name)) for name, _ in _NEW_ROW)
    arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
    updates = ", ".join(f"{quote(column)} = EXCLUDED.{quote(column)}" for column in columns[2:])
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}, {extra}) "  # noqa: S608
        f"SELECT *, {', '.join(value for _, value in _NEW_ROW)} FROM unnest({arrays}) "
        f"ON CONFLICT ({quote(columns[1])}) DO UPDATE SET {updates}"
    )
    by_column = list(zip(*rows, strict=True))
    params = [_array(values, kind) for values, kind in zip(by_column, _PG_TYPES, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
