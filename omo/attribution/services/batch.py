"""Attributing many orders at once (imports, bulk ingest): set-wise reads, decisions per order, rows
written through COPY on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from omo.attribution import batch_sql, links
from omo.attribution.models import (
    Attribution,
    CommissionEntry,
)
from omo.attribution.services.commission import commission_for, month_of
from omo.attribution.services.decision import (
    BindingFact,
    BrandContext,
    ClickFact,
    Decision,
    OrderFacts,
    brand_context,
    decide,
)
from omo.attribution.services.orders import (
    chunks,
    counted_clicks,
    publish_attributed,
    settle_cancelled,
)
from omo.binding.models import Binding
from omo.commerce.models import Order, OrderLine
from omo.core.models import Brand

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.


@dataclass
class BatchStats:
    considered: int = 0
    attributed: int = 0
    by_rule: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    commission_entries: int = 0


def _in_chunks(values: Sequence[int], size: int = 900) -> Iterator[Sequence[int]]:
    """SQLite caps the number of query parameters; PostgreSQL takes big lists happily."""
    step = 50_000 if connection.vendor == "postgresql" else size
    yield from chunks(values, step)


def attribute_orders(
    brand: Brand, orders: QuerySet[Order] | Iterable[int], *, chunk_size: int = 20_000
) -> BatchStats:
    """Attribute many orders set-wise: per chunk a few queries read orders, clicks, refs, bindings and
    lines; decisions are made in memory (the same `decide` as the live path); attributions and
    commission entries are written with one multi-row INSERT each. On PostgreSQL each chunk is instead
    decided and written by one INSERT … SELECT (omo/attribution/batch_sql.py, the same rules and words).

    Orders already attributed are skipped, so a re-run is a no-op; concurrent runs are safe
    (unique order per attribution, unique sale entry per order and clerk, conflicts ignored).
    """
    ctx = brand_context(brand)
    if isinstance(orders, QuerySet):
        order_ids = list(orders.filter(brand=brand).order_by("id").values_list("id", flat=True))
    else:
        order_ids = sorted(set(orders))
    stats = BatchStats()
    started = timezone.now()
    if batch_sql.usable(ctx):
        # PostgreSQL: each chunk decided and written by one statement (see batch_sql); the few
        # orders it leaves (codes SQL might read differently) go through `decide` here.
        left = batch_sql.attribute_chunks(ctx, list(chunks(order_ids, chunk_size)), stats)
        for chunk in chunks(left, chunk_size):
            _attribute_chunk(brand, ctx, chunk, stats)
    else:
        for chunk in chunks(order_ids, chunk_size):
            _attribute_chunk(brand, ctx, chunk, stats)
    if stats.commission_entries:
        transaction.on_commit(lambda: settle_cancelled(ctx.brand_id, order_ids))
    if stats.attributed:
        _publish_batch_attributed(ctx.brand_id, order_ids, since=started)
    return stats


def _publish_batch_attributed(brand_id: int, order_ids: Sequence[int], *, since: dt.datetime) -> None:
    """`order.attributed` for each order of the batch credited to a clerk by this run (decided since it
    started). A concurrent run of the same orders may publish one too; the event id is per order,
    so subscribers see one event (omo/outgoing_webhooks keys its outbox by it)."""
    for chunk in _in_chunks(order_ids):
        wanted = set(chunk)
        for order_id, clerk_id, store_id, rule in (
            Attribution.objects.filter(
                brand_id=brand_id,
                order_id__gte=chunk[0],
                order_id__lte=chunk[-1],
                clerk_id__isnull=False,
                decided_at__gte=since,
            )
            .order_by("order_id")
            .values_list("order_id", "clerk_id", "store_id", "rule")
        ):
            if order_id in wanted:
                publish_attributed(brand_id, order_id, clerk_id, store_id, rule)


def _attribute_chunk(brand: Brand, ctx: BrandContext, chunk: Sequence[int], stats: BatchStats) -> None:
    low, high = chunk[0], chunk[-1]
    wanted = set(chunk)
    # An id range plus a NOT EXISTS reads the chunk in one indexed scan, with no huge IN list.
    rows = Order.objects.filter(brand=brand, id__gte=low, id__lte=high, attribution__isnull=True).values_list(
        *OrderFacts.FIELDS
    )
    facts = [OrderFacts(*row) for row in rows if row[0] in wanted]
    stats.considered += len(facts)
    if not facts:
        return
    earliest = min(f.placed_at for f in facts) - ctx.window
    latest = max(f.placed_at for f in facts)
    customer_ids = sorted({f.customer_id for f in facts if f.customer_id})
    clicks_by_customer: dict[int, list[ClickFact]] = defaultdict(list)
    counted = counted_clicks(ctx.brand_id)
    for part in _in_chunks(customer_ids):
        rows_c = counted.filter(customer_id__in=part, clicked_at__range=(earliest, latest)).values_list(
            "customer_id", "clicked_at", "id", "clerk_id", "link_id"
        )
        for customer_id, at, pk, clerk_id, link_id in rows_c:
            clicks_by_customer[customer_id].append(ClickFact(at, pk, clerk_id, link_id))
    refs = {f.id: links.read_ref(f.ref) for f in facts if f.ref}
    link_ids = sorted({r.id for r in refs.values() if r is not None and r.kind == "link"})
    clicks_by_link: dict[int, list[ClickFact]] = defaultdict(list)
    for part in _in_chunks(link_ids):
        for at, pk, clerk_id, link_id in counted.filter(
            link_id__in=part, clicked_at__range=(earliest, latest)
        ).values_list("clicked_at", "id", "clerk_id", "link_id"):
            clicks_by_link[link_id].append(ClickFact(at, pk, clerk_id, link_id))
    for group in (*clicks_by_customer.values(), *clicks_by_link.values()):
        group.sort(key=lambda c: (c.clicked_at, c.id))
    bindings_by_customer: dict[int, list[BindingFact]] = defaultdict(list)
    if ctx.credit_bound_clerk:
        for part in _in_chunks(customer_ids):
            for customer_id, clerk_id, started_at, ended_at, store_id in Binding.objects.filter(
                brand_id=ctx.brand_id, customer_id__in=part, started_at__lte=latest
            ).values_list("customer_id", "clerk_id", "started_at", "ended_at", "store_id"):
                bindings_by_customer[customer_id].append(
                    BindingFact(clerk_id, started_at, ended_at, store_id)
                )
    decided_at = timezone.now()
    decisions: list[tuple[OrderFacts, Decision]] = []
    for order in facts:
        ref = refs.get(order.id)
        decision = decide(
            order,
            ctx,
            customer_clicks=clicks_by_customer.get(order.customer_id, ()) if order.customer_id else (),
            ref_clicks=clicks_by_link.get(ref.id, ()) if ref is not None and ref.kind == "link" else (),
            ref=ref,
            bindings=bindings_by_customer.get(order.customer_id, ()) if order.customer_id else (),
        )
        decisions.append((order, decision))
    credited = [
        order.id
        for order, d in decisions
        if d.clerk_id is not None and order.status != Order.Status.CANCELLED
    ]
    lines_by_order: dict[int, list[tuple[int, int | None, int]]] = defaultdict(list)
    if credited:
        # min/max, not first/last: the facts come in the model's ordering (newest first), not by id.
        for order_id, total, category_id, quantity in OrderLine.objects.filter(
            brand_id=ctx.brand_id, order_id__gte=min(credited), order_id__lte=max(credited)
        ).values_list("order_id", "total", "product__category_id", "quantity"):
            lines_by_order[order_id].append((total, category_id, quantity))
    credited_set = set(credited)
    attributions = []
    entries = []
    for order, decision in decisions:
        stats.by_rule[str(decision.rule)] += 1
        attributions.append(
            (
                ctx.brand_id,
                order.id,
                decision.clerk_id,
                decision.store_id,
                decision.rule,
                decision.click_id,
                decision.reason_zh[:300],
                decision.reason_en[:300],
                decided_at,
            )
        )
        if order.id in credited_set:
            basis, amount = commission_for(
                order,
                lines_by_order.get(order.id, ()),
                store_id=decision.store_id,
                ctx=ctx,
                clerk_id=decision.clerk_id,
            )
            entries.append(
                (
                    ctx.brand_id,
                    decision.clerk_id,
                    order.id,
                    None,
                    CommissionEntry.Kind.SALE,
                    basis,
                    amount,
                    month_of(order.placed_at, ctx.zone),
                    decided_at,
                )
            )
    with transaction.atomic():
        stats.attributed += _insert_attributions(attributions)
        stats.commission_entries += _insert_entries(entries)


ATTRIBUTION_COLUMNS = (
    "brand_id",
    "order_id",
    "clerk_id",
    "store_id",
    "rule",
    "click_id",
    "reason_zh",
    "reason_en",
    "decided_at",
)
ENTRY_COLUMNS = (
    "brand_id",
    "clerk_id",
    "order_id",
    "refund_id",
    "kind",
    "basis",
    "amount",
    "month",
    "created_at",
)


def _copy_in(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], conflict: str) -> int:
    """PostgreSQL: COPY into a temp table, then INSERT … ON CONFLICT DO NOTHING (idempotent and fast)."""
    column_list = ", ".join(columns)
    with connection.cursor() as cursor:
        # Only the columns we load, no constraints: ids come from the real table at the INSERT.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS _omo_stage_{table} ON COMMIT DROP AS "
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        raw = cursor.cursor
        with raw.copy(f"COPY _omo_stage_{table} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _omo_stage_{table} "
            f"ON CONFLICT {conflict} DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE _omo_stage_{table}")
    return inserted


def _insert_attributions(rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _copy_in(Attribution._meta.db_table, ATTRIBUTION_COLUMNS, rows, "(order_id)")
    objs = [Attribution(**dict(zip(ATTRIBUTION_COLUMNS, row, strict=True))) for row in rows]
    Attribution.objects.bulk_create(objs, batch_size=500, ignore_conflicts=True)
    return len(objs)


def _insert_entries(rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _copy_in(
            CommissionEntry._meta.db_table,
            ENTRY_COLUMNS,
            rows,
            "(order_id, clerk_id) WHERE kind = 'sale'",
        )
    objs = [CommissionEntry(**dict(zip(ENTRY_COLUMNS, row, strict=True))) for row in rows]
    CommissionEntry.objects.bulk_create(objs, batch_size=500, ignore_conflicts=True)
    return len(objs)
