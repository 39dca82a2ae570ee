"""Identity resolution over a brand's history, as a task and from `omo resolve_identities`.

Walks every source of identifiers in id order, a chunk at a time, and feeds each chunk to
`identity.resolve` (the same rules as the live paths): customers' own phone, email and member
number; chat contacts' platform user ids (verified); orders' contact phone and email; tracked
events' userId/anonymousId pairs. Then tracked events without a customer get the one their ids now
lead to. Running it again changes nothing: every identifier is already where it belongs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django_tasks import task

from omo.core.models import Brand
from omo.customers import identity
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


def _chunks(queryset, fields: tuple[str, ...], chunk: int) -> Iterator[list[tuple]]:
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:chunk])
        if not rows:
            return
        last = rows[-1][0]
        yield rows


def _customers(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    qs = Customer.objects.filter(brand=brand, merged_into__isnull=True, erased_at__isnull=True)
    for rows in _chunks(qs, ("phone", "email", "member_number"), chunk):
        yield [
            identity.Observation(
                [(Kind.MEMBER_NUMBER, member, True), (Kind.PHONE, phone), (Kind.EMAIL, email)],
                customer_id=pk,
                create=False,
            )
            for pk, phone, email, member in rows
        ]


def _contacts(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    from django.apps import apps

    contact_model = apps.get_model("inbox.Contact")
    qs = contact_model.objects.filter(brand=brand)
    for rows in _chunks(qs, ("inbox__platform", "external_user_id", "customer_id"), chunk):
        yield [
            identity.Observation(
                [(PLATFORM_KIND[platform], external, True)], customer_id=customer_id, create=False
            )
            for _, platform, external, customer_id in rows
            if platform in PLATFORM_KIND
        ]


def _orders(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    from django.apps import apps

    order_model = apps.get_model("commerce.Order")
    qs = order_model.objects.filter(brand=brand, customer__isnull=False).exclude(
        contact_phone="", contact_email=""
    )
    for rows in _chunks(qs, ("customer_id", "contact_phone", "contact_email"), chunk):
        yield [
            identity.Observation(
                [(Kind.PHONE, phone), (Kind.EMAIL, email)], customer_id=customer_id, create=False
            )
            for _, customer_id, phone, email in rows
        ]


def _events(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    from omo.tracking.models import TrackedEvent

    qs = TrackedEvent.objects.filter(brand=brand).exclude(user_id="").exclude(anonymous_id="")
    for rows in _chunks(qs, ("user_id", "anonymous_id", "customer_id"), chunk):
        pairs = {(user_id, anonymous_id, customer_id) for _, user_id, anonymous_id, customer_id in rows}
        yield [
            identity.Observation([(Kind.USER_ID, u), (Kind.ANONYMOUS, a)], customer_id=c, create=False)
            for u, a, c in sorted(pairs, key=lambda p: (p[0], p[1], p[2] or 0))
        ]


SOURCES: tuple[tuple[str, Callable], ...] = (
    ("customers", _customers),
    ("contacts", _contacts),
    ("orders", _orders),
    ("events", _events),
)


def _link_events(brand: Brand, chunk: int) -> int:
    """Tracked events without a customer whose anonymousId or userId now leads to one."""
    from omo.tracking.models import TrackedEvent

    linked = 0
    qs = TrackedEvent.objects.filter(brand=brand, customer__isnull=True)
    for rows in _chunks(qs, ("user_id", "anonymous_id"), chunk):
        wanted = {(Kind.USER_ID, u) for _, u, _ in rows if u} | {(Kind.ANONYMOUS, a) for _, _, a in rows if a}
        owners = identity._lookup(brand.pk, wanted)
        hops = {into for _, _, into in owners.values() if into}
        live = identity.live_customer_ids(brand.pk, hops) if hops else {}
        target: dict[int, list[int]] = {}
        for pk, user_id, anonymous_id in rows:
            for key in ((Kind.USER_ID, user_id), (Kind.ANONYMOUS, anonymous_id)):
                if key in owners:
                    customer_id, _, into = owners[key]
                    target.setdefault(live.get(into, into) if into else customer_id, []).append(pk)
                    break
        for customer_id, ids in target.items():
            linked += TrackedEvent.objects.filter(pk__in=ids, customer__isnull=True).update(
                customer_id=customer_id
            )
    return linked


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
    for name, source in SOURCES:
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
    report.events_linked = _link_events(brand, chunk)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


@task()
def resolve_identities(brand_id: int) -> dict:
    """The batch job as a background task (enqueued from the console or the command's --enqueue)."""
    brand = Brand.objects.get(pk=brand_id)
    return asdict(resolve_history(brand))
