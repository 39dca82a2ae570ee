"""Writing what resolution decided: new identifier rows (through COPY on PostgreSQL) and merge
suggestions for HQ's queue.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omo.core import bulk
from omo.core.models import Brand
from omo.customers.identity.lookup import IDENTITY_TABLE, holder_id
from omo.customers.models import Customer, CustomerIdentity, MergeSuggestion

# From this many rows on, PostgreSQL gets them through COPY (fewer round trips below it otherwise).
COPY_MIN_ROWS = 500
STAGE = "_omo_stage_customer_identity"
STAGE_COLUMNS = ("brand_id", "customer_id", "kind", "value", "verified", "source", "created_at")


def insert_identities(
    brand: Brand, rows: list[tuple[int, str, str, bool]], *, source: str, ignore_conflicts: bool
) -> None:
    """Store (customer id, kind, value, verified) rows; a (kind, value) stored meanwhile is skipped
    with `ignore_conflicts` and raises IntegrityError without it (on every database).

    On PostgreSQL the rows go through COPY: bulk_create sends every value as its own parameter,
    which Django and the driver prepare and quote one by one in Python (about 40% of the history
    batch's time). Without `ignore_conflicts` straight into the table (omo.core.bulk; a duplicate
    fails the COPY with IntegrityError); with it, from COPY_MIN_ROWS rows on, into a per-connection
    staging table and one INSERT … SELECT that can skip conflicts.

    Rows go in (kind, value) order, so two writers storing some of the same identifiers at once
    wait for each other in one order instead of deadlocking.
    """
    rows = sorted(rows, key=lambda row: (row[1], row[2]))
    if connection.vendor == "postgresql" and not ignore_conflicts:
        bulk.insert_rows(
            CustomerIdentity,
            [
                {
                    "brand_id": brand.pk,
                    "customer_id": customer_id,
                    "kind": kind,
                    "value": value,
                    "verified": verified,
                    "source": source,
                }
                for customer_id, kind, value, verified in rows
            ],
            need_ids=False,
        )
        return
    if connection.vendor != "postgresql" or len(rows) < COPY_MIN_ROWS:
        CustomerIdentity.objects.bulk_create(
            [
                CustomerIdentity(
                    brand=brand,
                    customer_id=customer_id,
                    kind=kind,
                    value=value,
                    verified=verified,
                    source=source,
                )
                for customer_id, kind, value, verified in rows
            ],
            ignore_conflicts=ignore_conflicts,
            batch_size=2000,
        )
        return
    columns = ", ".join(STAGE_COLUMNS)
    now = timezone.now()
    insert = f"INSERT INTO {IDENTITY_TABLE} ({columns}) SELECT {columns} FROM {STAGE}"
    with transaction.atomic(), connection.cursor() as cursor:
        # One staging table per connection, emptied at every commit; no catalog change per call.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM {IDENTITY_TABLE} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
            for customer_id, kind, value, verified in rows:
                copy.write_row((brand.pk, customer_id, kind, value, verified, source, now))
        # Through Django's cursor, so a unique violation is django.db.IntegrityError as with bulk_create.
        if not ignore_conflicts:
            cursor.execute(insert)
        else:
            # The lookup just found none of these stored, so a plain INSERT almost always succeeds
            # and skips ON CONFLICT's speculative insertion (~12% of the INSERT); a concurrent
            # writer's row sends it round again with ON CONFLICT.
            try:
                with transaction.atomic():
                    cursor.execute(insert)
            except IntegrityError:
                cursor.execute(f"{insert} ON CONFLICT (brand_id, kind, value) DO NOTHING")
        cursor.execute(f"TRUNCATE {STAGE}")


def add_identity(
    customer: Customer, kind: str, value: str, *, source: str, verified: bool = False
) -> CustomerIdentity:
    """Store one identifier of the customer. IntegrityError when the brand already has this
    (kind, value): inside the caller's savepoint, which decides what then happens."""
    return CustomerIdentity.objects.create(
        brand_id=customer.brand_id,
        customer=customer,
        kind=kind,
        value=value,
        verified=verified,
        source=source[:40],
    )


def attach(customer: Customer, kind: str, value: str, *, source: str, verified: bool = False) -> int:
    """Give the customer this identifier unless the brand has it already. Returns the id of the
    customer holding it now: the customer's own, or whoever held it first (also when a concurrent
    writer stored it between the look and the insert: the unique (brand, kind, value) decides)."""
    owner = holder_id(customer.brand_id, kind, value)
    if owner is not None:
        return owner
    try:
        with transaction.atomic():
            add_identity(customer, kind, value, source=source, verified=verified)
    except IntegrityError:
        owner = holder_id(customer.brand_id, kind, value)
        if owner is None:  # not the unique identifier after all
            raise
        return owner
    return customer.pk


REASONS = {
    "verified": "兩位顧客都已驗證身分，不自動合併",
    "cap": "合併後識別數量會超過上限",
    "manual": "人工標記",
}


def suggest(brand: Brand, pairs: list[tuple[int, int, str, str, str]]) -> int:
    """Open a suggestion for each pair not already open or dismissed. Returns how many were opened."""
    wanted: dict[tuple[int, int], tuple[str, str, str]] = {}
    for a, b, kind, value, problem in pairs:
        if a == b:
            continue
        pair = (min(a, b), max(a, b))
        wanted.setdefault(pair, (kind, value, problem))
    if not wanted:
        return 0
    ids = {i for pair in wanted for i in pair}
    live = dict(Customer.objects.filter(brand=brand, pk__in=ids).values_list("pk", "merged_into_id"))
    existing = set(
        MergeSuggestion.objects.filter(
            brand=brand,
            customer_a_id__in=ids,
            status__in=[MergeSuggestion.Status.OPEN, MergeSuggestion.Status.DISMISSED],
        ).values_list("customer_a_id", "customer_b_id")
    )
    rows = [
        MergeSuggestion(
            brand=brand,
            customer_a_id=a,
            customer_b_id=b,
            kind=kind or "",
            value=(value or "")[:255],
            reason=REASONS.get(problem, problem),
        )
        for (a, b), (kind, value, problem) in wanted.items()
        if (a, b) not in existing and a in live and b in live and not live[a] and not live[b]
    ]
    MergeSuggestion.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
