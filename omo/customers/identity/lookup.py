"""Reading stored identities: which customer holds each identifier, and which customer an id now is
(following merges). On PostgreSQL each read is one statement with arrays as single parameters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection

from omo.customers.models import Customer, CustomerIdentity


def _lookup(
    brand_id: int, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """(kind, value) -> (customer id, verified, the customer's merged_into id) for stored identifiers."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in wanted:
        by_kind[kind].add(value)
    if connection.vendor == "postgresql":
        return _lookup_postgresql(brand_id, by_kind)
    found: dict[tuple[str, str], tuple[int, bool, int | None]] = {}
    for kind, values in by_kind.items():
        values_list = list(values)
        for start in range(0, len(values_list), 5000):
            rows = CustomerIdentity.objects.filter(
                brand_id=brand_id, kind=kind, value__in=values_list[start : start + 5000]
            ).values_list("value", "customer_id", "verified", "customer__merged_into_id")
            for value, customer_id, verified, merged_into in rows:
                found[(kind, value)] = (customer_id, verified, merged_into)
    return found


def lookup(
    brand_id: int, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """(kind, value) -> (customer id, verified, the customer's merged_into id) for stored identifiers."""
    return _lookup(brand_id, wanted)


def holder(brand_id: int, kind: str, value: str) -> Customer | None:
    """The customer holding this identifier as stored (not following merges), or None."""
    identity = (
        CustomerIdentity.objects.select_related("customer")
        .filter(brand_id=brand_id, kind=kind, value=value)
        .first()
    )
    return identity.customer if identity is not None else None


def holder_id(brand_id: int, kind: str, value: str) -> int | None:
    """The id of the customer holding this identifier, or None."""
    return (
        CustomerIdentity.objects.filter(brand_id=brand_id, kind=kind, value=value)
        .values_list("customer_id", flat=True)
        .first()
    )


IDENTITY_TABLE = CustomerIdentity._meta.db_table
CUSTOMER_TABLE = Customer._meta.db_table


def _lookup_postgresql(
    brand_id: int, by_kind: dict[str, set[str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """One statement for the whole batch: per kind `value = ANY(array)` on the unique index.

    An array is one parameter; Django's `value__in` sends every value as its own placeholder, which
    the driver quotes one by one in Python (a large share of a batch's time at 5,000 values).
    """
    found: dict[tuple[str, str], tuple[int, bool, int | None]] = {}
    if not by_kind:
        return found
    parts: list[str] = []
    params: list[Any] = []
    for kind, values in by_kind.items():
        parts.append(
            f"SELECT i.kind, i.value, i.customer_id, i.verified, c.merged_into_id FROM {IDENTITY_TABLE} i "
            f"JOIN {CUSTOMER_TABLE} c ON c.id = i.customer_id "
            "WHERE i.brand_id = %s AND i.kind = %s AND i.value = ANY(%s)"
        )
        params += [brand_id, kind, list(values)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for kind, value, customer_id, verified, merged_into in cursor.fetchall():
            found[(kind, value)] = (customer_id, verified, merged_into)
    return found


def live_customer_ids(brand_id: int, ids: Iterable[int]) -> dict[int, int]:
    """id -> the customer it now is (following merged_into), for customers of this brand."""
    ids = list(ids)
    result: dict[int, int] = {}
    pending = set(ids)
    hops: dict[int, int | None] = {}  # only customers of this brand
    asked: set[int] = set()
    for _ in range(20):  # merge chains are short; the bound only guards against a cycle
        unknown = [i for i in pending if i not in asked]
        if not unknown:
            break
        asked.update(unknown)
        if connection.vendor == "postgresql":  # the ids as one array parameter (see _lookup_postgresql)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, merged_into_id FROM {CUSTOMER_TABLE} WHERE brand_id = %s AND id = ANY(%s)",
                    [brand_id, unknown],
                )
                hops.update(cursor.fetchall())
        else:
            hops.update(
                Customer.objects.filter(brand_id=brand_id, pk__in=unknown).values_list("pk", "merged_into_id")
            )
        pending = {into for i in unknown if (into := hops.get(i))}
    for start in ids:
        current, steps = start, 0
        while (into := hops.get(current)) and steps < 20:
            current, steps = into, steps + 1
        if current in hops:
            result[start] = current
    return result
