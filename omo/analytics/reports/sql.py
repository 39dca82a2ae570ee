"""Two-level aggregates: the ORM builds the inner per-customer query (time zones, joins, filters
for both databases), plain SQL groups its rows once more. Nothing per customer reaches Python."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet


def inner(queryset: QuerySet) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


@contextlib.contextmanager
def without_jit() -> Iterator[None]:
    """A transaction whose queries PostgreSQL does not JIT-compile: report queries look expensive
    to its planner, which then spends seconds compiling them (2.4 s of the lifecycle's 4.7 s at
    `medium`) to save milliseconds. Two statements more per report; nothing on SQLite."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                # and sorts of a few hundred thousand rows in memory rather than on disk
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def fetch(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with without_jit(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def day_number(column: str) -> str:
    """A local date column as a whole number of days (for differences between two of them)."""
    if connection.vendor == "postgresql":
        return f"({column} - DATE '2000-01-01')"
    return f"CAST(julianday({column}) AS INTEGER)"


def as_date(value: Any) -> dt.date:
    """A truncated month or day read by raw SQL: a date, a datetime or (SQLite) an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def date_of_number(number: int) -> dt.date:
    """The inverse of `day_number`."""
    if connection.vendor == "postgresql":
        return _EPOCH + dt.timedelta(days=int(number))
    return _EPOCH + dt.timedelta(days=int(number) - _JULIAN_EPOCH)


def number_of_date(day: dt.date) -> int:
    offset = (day - _EPOCH).days
    return offset if connection.vendor == "postgresql" else offset + _JULIAN_EPOCH


_EPOCH = dt.date(2000, 1, 1)
_JULIAN_EPOCH = 2451544  # CAST(julianday('2000-01-01') AS INTEGER)
