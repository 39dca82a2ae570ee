"""SQL building blocks that mean the same on SQLite and PostgreSQL.

Every condition compiles to a boolean that is never NULL (a comparison of a COALESCEd number, or an
EXISTS), so NOT is the exact complement and a customer without a row (no score, no loyalty
account) is simply "not matching" the positive form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, F, Func, Q, QuerySet, Value
from django.db.models.expressions import BaseExpression
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
)
from django.db.models.sql.compiler import SQLCompiler

NOTHING = Q(pk__in=[])


def compare(expr: BaseExpression, op: str, value: Any) -> Q:
    """`expr op value` for an expression that is never NULL (wrap sums and counts in Coalesce)."""
    if op == "eq":
        return Q(Exact(expr, value))
    if op == "ne":
        return ~Q(Exact(expr, value))
    if op == "gt":
        return Q(GreaterThan(expr, value))
    if op == "gte":
        return Q(GreaterThanOrEqual(expr, value))
    if op == "lt":
        return Q(LessThan(expr, value))
    if op == "lte":
        return Q(LessThanOrEqual(expr, value))
    if op == "between":
        low, high = value
        return Q(GreaterThanOrEqual(expr, low)) & Q(LessThanOrEqual(expr, high))
    if op == "in":
        return Q(In(expr, list(value)))
    if op == "not_in":
        return ~Q(In(expr, list(value)))
    raise ValueError(f"no comparison for {op}")


def lookups(column: str, op: str, value: Any) -> Q:
    """The positive part of `column op value` as filter keywords (for a row's own column)."""
    if op in ("eq", "ne"):
        return Q(**{column: value})
    if op in ("in", "not_in"):
        return Q(**{f"{column}__in": list(value)})
    if op == "between":
        low, high = value
        return Q(**{f"{column}__gte": low, f"{column}__lte": high})
    return Q(**{f"{column}__{op}": value})


def exists_compare(rows: QuerySet[Any], column: str, op: str, value: Any) -> Q:
    """For a value held in an optional per-customer row (score, prediction, loyalty account):
    the customer has such a row and it matches; `ne` and `not_in` are the NOT of `eq` and `in`,
    so a customer without a row is "not equal" to anything."""
    positive = Exists(rows.filter(lookups(column, op, value)))
    return ~Q(positive) if op in ("ne", "not_in") else Q(positive)


def days_since(column: str, op: str, days: Any, now: dt.datetime) -> Q:
    """Whole days elapsed since `column` (a time), compared with `days`: 0 for the last 24 hours.

    Written as time comparisons so an index on the column serves it and both databases agree."""

    def at_least(n: int) -> Q:
        return Q(**{f"{column}__lte": now - dt.timedelta(days=n)})

    def at_most(n: int) -> Q:
        return Q(**{f"{column}__gt": now - dt.timedelta(days=n + 1)}) if n >= 0 else NOTHING

    if op == "between":
        low, high = days
        return at_least(low) & at_most(high)
    if op in ("eq", "ne"):
        return at_least(days) & at_most(days)
    if op == "gte":
        return at_least(days)
    if op == "gt":
        return at_least(days + 1)
    if op == "lte":
        return at_most(days)
    if op == "lt":
        return at_most(days - 1)
    raise ValueError(f"no day comparison for {op}")


class JsonListHas(Func):
    """True when a JSON list column holds exactly this string (no substring matches: "VIP" is not
    found in ["VIP2"]). SQLite walks the list with json_each; PostgreSQL tests jsonb containment."""

    output_field = BooleanField()

    def __init__(self, column: str, item: str) -> None:
        super().__init__(F(column), Value(item))

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"tags are not searchable on {connection.vendor}")

    def _parts(self, compiler: SQLCompiler) -> tuple[str, str, tuple[Any, ...]]:
        column, item = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        item_sql, item_params = compiler.compile(item)
        return column_sql, item_sql, (*column_params, *item_params)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column_sql, item_sql, params = self._parts(compiler)
        return (
            f"EXISTS (SELECT 1 FROM json_each(COALESCE({column_sql}, '[]')) AS tag_item "
            f"WHERE tag_item.type = 'text' AND tag_item.value = {item_sql})",
            params,
        )

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column_sql, item_sql, params = self._parts(compiler)
        return f"COALESCE({column_sql} @> jsonb_build_array(({item_sql})::text), false)", params


NUMBER_TESTS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class JsonPropertyTest(Func):
    """One test of a JSON object's key, the same on both databases, with the JSON type respected:
    "1" never equals 1, "cheap" is neither above nor below 1000, true is not 1.

    `op` is eq (a string, number, boolean or null), gt / gte / lt / lte (a number) or exists."""

    output_field = BooleanField()

    def __init__(self, column: str, key: str, op: str, value: Any) -> None:
        super().__init__(F(column))
        self.key, self.op, self.value = key, op, value

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"event properties are not searchable on {connection.vendor}")

    def _kind(self) -> str:
        value = self.value
        if self.op in NUMBER_TESTS:
            return "number"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return "number"
        return "text"

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column_sql, column_params = compiler.compile(self.get_source_expressions()[0])
        path = f'$."{self.key}"'
        kind_sql = f"json_type({column_sql}, %s)"
        params: tuple[Any, ...] = (*column_params, path)
        if self.op == "exists":
            return f"({kind_sql} IS NOT NULL)", params
        kind = self._kind()
        if kind == "number":
            sign = NUMBER_TESTS.get(self.op, "=")
            value_sql = f"json_extract({column_sql}, %s)"
            return (
                f"({kind_sql} IN ('integer', 'real') AND {value_sql} {sign} %s)",
                (*params, *column_params, path, self.value),
            )
        if kind == "text":
            value_sql = f"json_extract({column_sql}, %s)"
            return f"({kind_sql} = 'text' AND {value_sql} = %s)", (*params, *column_params, path, self.value)
        return f"({kind_sql} = %s)", (*params, kind)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column_sql, column_params = compiler.compile(self.get_source_expressions()[0])
        item_sql = f"({column_sql} -> %s)"
        params: tuple[Any, ...] = (*column_params, self.key)
        if self.op == "exists":
            return f"({item_sql} IS NOT NULL)", params
        kind = self._kind()
        if kind == "number":
            sign = NUMBER_TESTS.get(self.op, "=")
            return (
                f"(CASE WHEN jsonb_typeof({item_sql}) = 'number' "
                f"THEN ({column_sql} ->> %s)::numeric {sign} %s ELSE false END)",
                (*params, *column_params, self.key, self.value),
            )
        if kind == "text":
            return f"COALESCE({item_sql} = to_jsonb((%s)::text), false)", (*params, self.value)
        if kind == "null":
            return f"COALESCE(jsonb_typeof({item_sql}) = 'null', false)", params
        return f"COALESCE({item_sql} = (%s)::jsonb, false)", (*params, kind)


def python_compare(actual: Any, op: str, value: Any) -> bool:
    """`actual op value` in Python, as `compare` says it in SQL (for numbers)."""
    if op == "between":
        low, high = value
        return bool(low <= actual <= high)
    tests = {
        "eq": actual == value,
        "ne": actual != value,
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }
    return bool(tests[op])


def judge_number(cond: Any, actual: Any) -> bool:
    """A count or sum condition judged on the customer's own value (None: nothing, so 0)."""
    return python_compare(actual or 0, cond.op, cond.value)


def holds_for_zero(op: str, value: Any) -> bool:
    """Whether a customer with nothing (a count or sum of 0) meets `op value`."""
    return python_compare(0, op, value)


def aggregate_test(rows: QuerySet[Any], customer: str, aggregate: Any, op: str, value: Any) -> Q:
    """`aggregate(rows of the customer) op value`, set-based: the rows are grouped by customer once
    (one pass over the brand's rows, which their indexes narrow) instead of one subquery per customer.

    A customer without rows has the value 0: when 0 meets the test, the members are everyone except
    the customers whose rows fail it; otherwise the customers whose rows pass it."""
    grouped = (
        rows.filter(**{f"{customer}__isnull": False})
        .order_by()
        .values(customer)
        .annotate(aggregated=aggregate)
    )
    test = lookups("aggregated", op, value)
    if op == "ne":
        test = ~test
    if holds_for_zero(op, value):
        return ~Q(pk__in=grouped.filter(~test).values(customer))
    return Q(pk__in=grouped.filter(test).values(customer))
