"""Identity resolution over a brand's history, as a task and from `omo resolve_identities`.

Walks every source of identifiers in id order, a chunk at a time, and feeds each chunk to
`identity.resolve` (the same rules as the live paths): customers' own phone, email and member
number, then the sources the apps above register (omo/customers/registry.py): chat contacts'
platform user ids (verified); orders' contact phone and email; tracked events'
userId/anonymousId pairs. Then tracked events without a customer get the one their ids now lead
to. Running it again changes nothing: every identifier is already where it belongs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django_tasks import task

from omo.core.models import Brand
from omo.customers import identity, registry
from omo.customers.models import Customer, CustomerIdentity

CHUNK = 5000
Kind = CustomerIdentity.Kind
PLATFORM_KIND = {
    "line": Kind.LINE,
    "messenger": Kind.MESSENGER,
    "instagram": Kind.INSTAGRAM,
    "whatsapp": Kind.WHATSAPP,
}


@dataclass
class BatchReport:
    identifiers: int = 0  # identifiers looked at (after junk was dropped)
    observations: int = 0
    attached: int = 0  # identifiers newly linked to a customer
    merges: int = 0
    suggestions: int = 0
    events_linked: int = 0
    seconds: float = 0.0


def chunks(queryset: QuerySet[Any], fields: tuple[str, ...], chunk: int) -> Iterator[list[tuple]]:
    """The rows' (pk, *fields), `chunk` at a time in id order (for the identifier sources)."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:chunk])
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _customers(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    qs = Customer.objects.filter(brand=brand, merged_into__isnull=True, erased_at__isnull=True)
    for rows in chunks(qs, ("phone", "email", "member_number"), chunk):
        yield [
            identity.Observation(
                [(Kind.MEMBER_NUMBER, member, True), (Kind.PHONE, phone), (Kind.EMAIL, email)],
                customer_id=pk,
                create=False,
            )
            for pk, phone, email, member in rows
        ]


def sources() -> list[tuple[str, Callable[[Brand, int], Iterator[list[identity.Observation]]]]]:
    """(name, walk) of every source, in the order the batch walks them: customers first."""
    return [("customers", _customers)] + [(s.name, s.walk) for s in registry.identifier_sources()]


class _Statistics:
    """Keeps PostgreSQL's row estimates for the identifier table in step while the batch fills it.

    A first run can grow the table from nothing to millions of rows faster than autovacuum
    re-analyzes it; with statistics saying "empty" the planner reads a customer's identifiers with
    a sequential scan (seconds per chunk, growing with the table). So the table is analyzed again
    each time the rows attached since the last ANALYZE outnumber the rows it knew of then: a
    handful of ANALYZEs (each a fixed-size sample) over a whole run.
    """

    MIN_ROWS = 10_000

    def __init__(self) -> None:
        self.enabled = connection.vendor == "postgresql"
        self.known = 0.0
        self.attached_then = 0
        if self.enabled:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                    [CustomerIdentity._meta.db_table],
                )
                row = cursor.fetchone()
            self.known = max(0.0, float(row[0])) if row else 0.0

    def after(self, attached: int) -> None:
        grown = attached - self.attached_then
        if not self.enabled or grown < max(self.MIN_ROWS, self.known):
            return
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {CustomerIdentity._meta.db_table}")
        self.known += grown
        self.attached_then = attached


def resolve_history(
    brand: Brand, *, chunk: int = CHUNK, progress: Callable[[str, BatchReport], None] | None = None
) -> BatchReport:
    """Identity resolution over everything the brand has recorded; idempotent."""
    report = BatchReport()
    started = time.perf_counter()
    rules = identity.rules_for(brand)
    statistics = _Statistics()
    for name, source in sources():
        for observations in source(brand, chunk):
            if not observations:
                continue
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # A commit need not wait for its WAL flush: if the server crashes, the last chunks
                    # are lost whole (never half) and running the batch again redoes them.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                outcome = identity.resolve(
                    brand, observations, source=f"batch:{name}", rules=rules, ignore_conflicts=True
                )
            report.observations += len(observations)
            report.identifiers += outcome.identifiers
            report.attached += outcome.attached
            report.merges += len(outcome.merges)
            report.suggestions += outcome.suggestions
            statistics.after(report.attached)
            if progress is not None:
                progress(name, report)
    report.events_linked = sum(
        source.link(brand, chunk) for source in registry.identifier_sources() if source.link is not None
    )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@task()
def resolve_identities(brand_id: int) -> dict:
    """The batch job as a background task (enqueued from the console or the command's --enqueue)."""
    brand = Brand.objects.get(pk=brand_id)
    return asdict(resolve_history(brand))
