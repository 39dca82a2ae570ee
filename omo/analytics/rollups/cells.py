"""The rollup's cells and how they are written: the brand's state lock, and one upsert per chunk.

Every writer (a delta, a customer refresh, a store or product forgotten) adds to cells through
`add_cells`, which writes its rows in key order (the lock order) as the transaction's last
statements, after `writable_zone` has taken the brand's `SalesRollup` row FOR SHARE.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Field, Model, QuerySet

from omo.analytics.models import (
    NO_STORE,
    CustomerActivity,
    CustomerDay,
    ProductSalesDay,
    SalesDay,
    SalesRollup,
)
from omo.commerce.models import Order, OrderLine

CANCELLED = Order.Status.CANCELLED

_Cell = TypeVar("_Cell", bound=Model)  # a rollup table

_UPSERT_CHUNK = 200  # rows per INSERT … ON CONFLICT (SQLite allows 32766 parameters)
STREAM_CHUNK = 20_000  # rows read and written at a time by a rebuild


def _trunc_div(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, as SQL divides integers."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def line_net(total: int, quantity: int, refunded_quantity: int) -> int:
    """A line's revenue after refunded units, exactly as selectors.LINE_NET computes it in SQL."""
    return total - _trunc_div(total * refunded_quantity, quantity)


# --- writing: the state lock and the upserts -----------------------------------------------------


def writable_zone(brand_id: int) -> ZoneInfo | None:
    """Lock the brand's rollup FOR SHARE and return the time zone its days are in; None when no
    build has started (nothing to keep up to date: the build will read every order)."""
    table = connection.ops.quote_name(SalesRollup._meta.db_table)
    sql = f"SELECT time_zone FROM {table} WHERE brand_id = %s AND time_zone <> ''"  # noqa: S608
    if connection.vendor == "postgresql":
        sql += " FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [brand_id])
        row = cursor.fetchone()
    return ZoneInfo(row[0]) if row else None


# The counters of each rollup table, which `add_cells` adds to; its key is the table's unique key.
_VALUES: dict[type[Model], tuple[str, ...]] = {
    SalesDay: ("orders", "net"),
    ProductSalesDay: ("revenue", "units", "lines"),
    CustomerDay: ("customers", "omo_customers"),
    CustomerActivity: (),  # rows only created (to be locked), never added to
}


def _keys(model: type[Model]) -> tuple[str, ...]:
    (unique,) = model._meta.total_unique_constraints
    return tuple(name for name in unique.fields if name != "brand")


def _db_column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None  # keys name concrete fields
    return field.column


def empty_cells(model: type[Model]) -> defaultdict[tuple, list[int]]:
    """Deltas to add to `model`, by key: each starts at zero for every counter."""
    width = len(_VALUES[model])
    return defaultdict(lambda: [0] * width)


def add_cells(model: type[Model], brand_id: int, cells: Mapping[tuple, Sequence[int]]) -> None:
    """Add `cells` ({key tuple: counter deltas}) to the rows of `model`, creating missing ones; for
    a model without counters, only create the missing rows.

    One INSERT … ON CONFLICT per chunk on the model's unique key, rows in key order (the lock
    order)."""
    keys, values = _keys(model), _VALUES[model]
    rows = [(key, deltas) for key, deltas in sorted(cells.items()) if not values or any(deltas)]
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ["brand_id", *keys, *values]
    (unique,) = model._meta.total_unique_constraints
    target = ", ".join(quote(_db_column(model, name)) for name in unique.fields)
    if values:
        action = "DO UPDATE SET " + ", ".join(
            f"{quote(v)} = {table}.{quote(v)} + excluded.{quote(v)}" for v in values
        )
    else:
        action = "DO NOTHING"
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _UPSERT_CHUNK):
            chunk = rows[start : start + _UPSERT_CHUNK]
            params: list[Any] = []
            for key, deltas in chunk:
                params.extend([brand_id, *(_param(part) for part in key), *deltas])
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES {', '.join([placeholders] * len(chunk))} ON CONFLICT ({target}) {action}",
                params,
            )


def move_cells(model: type[_Cell], brand_id: int, rows: QuerySet[_Cell], **new_key: int) -> None:
    """Fold `rows` (a queryset of `model`) into the rows whose key has `new_key` in place of theirs."""
    keys, values = _keys(model), _VALUES[model]
    cells = empty_cells(model)
    for row in rows.values_list(*keys, *values):
        found = dict(zip(keys, row, strict=False))
        cell = cells[tuple(new_key.get(name, found[name]) for name in keys)]
        for index, delta in enumerate(row[len(keys) :]):
            cell[index] += delta
    add_cells(model, brand_id, cells)
    rows.delete()


def order_place(order: Order, zone: ZoneInfo) -> tuple[dt.date, int]:
    """The (local day, store key) an order is counted under."""
    return order.placed_at.astimezone(zone).date(), order.store_id or NO_STORE


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def column(row: OrderLine | Mapping[str, Any], name: str) -> Any:
    """A line's column, from an OrderLine or from a row of `values()`."""
    return row[name] if isinstance(row, Mapping) else getattr(row, name)
