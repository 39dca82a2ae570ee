"""Attributing one order (its facts read, the decision stored, the sale entries written) and the
reversing entries of a refund or a cancellation."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from omo.attribution import links
from omo.attribution.models import (
    Attribution,
    Click,
    CommissionEntry,
)
from omo.attribution.services.commission import commission_for, month_of, round_div
from omo.attribution.services.decision import (
    BindingFact,
    BrandContext,
    ClickFact,
    OrderFacts,
    brand_context,
    decide,
)
from omo.binding.models import Binding
from omo.commerce.models import Order, OrderLine, Refund
from omo.core import events
from omo.core.models import Brand

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.


def _facts(order: Order) -> OrderFacts:
    return OrderFacts(
        order.pk,
        order.customer_id,
        order.staff_id,
        order.sales_channel,
        order.coupon_code,
        order.ref,
        order.placed_at,
        order.store_id,
        order.subtotal,
        order.discount_total,
        order.status,
        order.discounts,
    )


def _click_facts(queryset: QuerySet[Click]) -> list[ClickFact]:
    return [
        ClickFact(at, pk, clerk_id, link_id)
        for at, pk, clerk_id, link_id in queryset.values_list(
            "clicked_at", "id", "clerk_id", "link_id"
        ).order_by("clicked_at", "id")
    ]


def counted_clicks(brand_id: int) -> QuerySet[Click]:
    return Click.objects.filter(brand_id=brand_id, is_preview=False, clerk_id__isnull=False)


def attribute_order(order: Order | int, *, ctx: BrandContext | None = None) -> Attribution:
    """Decide and store the attribution of one order, plus its commission entry. Idempotent."""
    if isinstance(order, int):
        order = Order.objects.get(pk=order)
    existing = Attribution.objects.filter(order_id=order.pk).first()
    if existing is not None:
        return existing
    ctx = ctx or brand_context(order.brand_id)
    facts = _facts(order)
    since = facts.placed_at - ctx.window
    customer_clicks = (
        _click_facts(
            counted_clicks(ctx.brand_id).filter(
                customer_id=facts.customer_id, clicked_at__range=(since, facts.placed_at)
            )
        )
        if facts.customer_id
        else []
    )
    ref = links.read_ref(facts.ref)
    ref_clicks = (
        _click_facts(
            counted_clicks(ctx.brand_id).filter(link_id=ref.id, clicked_at__range=(since, facts.placed_at))
        )
        if ref is not None and ref.kind == "link"
        else []
    )
    bindings: list[BindingFact] = []
    if ctx.credit_bound_clerk and facts.customer_id:
        bindings = [
            BindingFact(*row)
            for row in Binding.objects.filter(
                brand_id=ctx.brand_id,
                customer_id=facts.customer_id,
                started_at__lte=facts.placed_at,
            ).values_list("clerk_id", "started_at", "ended_at", "store_id")
        ]
    decision = decide(
        facts, ctx, customer_clicks=customer_clicks, ref_clicks=ref_clicks, ref=ref, bindings=bindings
    )
    try:
        with transaction.atomic():
            attribution = Attribution.objects.create(
                brand_id=ctx.brand_id,
                order_id=order.pk,
                clerk_id=decision.clerk_id,
                store_id=decision.store_id,
                rule=decision.rule,
                click_id=decision.click_id,
                reason_zh=decision.reason_zh[:300],
                reason_en=decision.reason_en[:300],
                decided_at=timezone.now(),
            )
            if decision.clerk_id is not None and facts.status != Order.Status.CANCELLED:
                lines = OrderLine.objects.filter(order_id=order.pk).values_list(
                    "total", "product__category_id", "quantity"
                )
                basis, amount = commission_for(
                    facts, lines, store_id=decision.store_id, ctx=ctx, clerk_id=decision.clerk_id
                )
                CommissionEntry.objects.bulk_create(
                    [
                        CommissionEntry(
                            brand_id=ctx.brand_id,
                            clerk_id=decision.clerk_id,
                            order_id=order.pk,
                            kind=CommissionEntry.Kind.SALE,
                            basis=basis,
                            amount=amount,
                            month=month_of(facts.placed_at, ctx.zone),
                        )
                    ],
                    ignore_conflicts=True,
                )
            if decision.clerk_id is not None:  # after this commit, and only by the run that decided
                publish_attributed(
                    ctx.brand_id, order.pk, decision.clerk_id, decision.store_id, decision.rule
                )
    except IntegrityError:  # a concurrent run decided it first; its answer stands
        return Attribution.objects.get(order_id=order.pk)
    if attribution.clerk_id is not None:
        transaction.on_commit(lambda: settle_cancelled(ctx.brand_id, [order.pk]))
    return attribution


def reverse_for_refund(refund: Refund | int) -> list[CommissionEntry]:
    """Write the reversing entries for a refund: each sale entry clawed back by the refunded share."""
    if isinstance(refund, int):
        refund = Refund.objects.select_related("order").get(pk=refund)
    order = refund.order
    ctx_zone = _zone_of(order.brand_id)
    sales = list(CommissionEntry.objects.filter(order_id=order.pk, kind=CommissionEntry.Kind.SALE))
    entries = [
        CommissionEntry(
            brand_id=order.brand_id,
            clerk_id=sale.clerk_id,
            order_id=order.pk,
            refund_id=refund.pk,
            kind=CommissionEntry.Kind.REVERSAL,
            basis=-min(sale.basis, round_div(sale.basis * refund.amount, order.total)) if order.total else 0,
            amount=-min(sale.amount, round_div(sale.amount * refund.amount, order.total))
            if order.total
            else 0,
            month=month_of(refund.created_at, ctx_zone),
        )
        for sale in sales
    ]
    CommissionEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return list(CommissionEntry.objects.filter(refund_id=refund.pk))


def reverse_for_cancellation(order: Order | int) -> list[CommissionEntry]:
    """Write the reversing entries for a cancelled order: each clerk gives back what they still hold on it.

    What a clerk holds is the sum of their entries on the order (the sale, less any refund reversals),
    so nothing is clawed back twice. One entry per order and clerk (a unique constraint), dated in the
    month of the cancellation: a repeated event writes nothing more.
    """
    order_id = order if isinstance(order, int) else order.pk
    facts = Order.objects.filter(pk=order_id).values("brand_id", "status", "cancelled_at").first()
    if facts is None or facts["status"] != Order.Status.CANCELLED:
        return []
    month = month_of(facts["cancelled_at"] or timezone.now(), _zone_of(facts["brand_id"]))
    held = (
        CommissionEntry.objects.filter(order_id=order_id)
        .exclude(kind=CommissionEntry.Kind.CANCELLATION)
        .values("clerk_id")
        .annotate(basis=Sum("basis"), amount=Sum("amount"))
        .order_by("clerk_id")
    )
    entries = [
        CommissionEntry(
            brand_id=facts["brand_id"],
            clerk_id=row["clerk_id"],
            order_id=order_id,
            kind=CommissionEntry.Kind.CANCELLATION,
            basis=-row["basis"],
            amount=-row["amount"],
            month=month,
        )
        for row in held
        if row["basis"] or row["amount"]
    ]
    CommissionEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return list(CommissionEntry.objects.filter(order_id=order_id, kind=CommissionEntry.Kind.CANCELLATION))


def _zone_of(brand_id: int) -> ZoneInfo:
    name = Brand.objects.filter(pk=brand_id).values_list("time_zone", flat=True).first() or "Asia/Taipei"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Taipei")


def chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def publish_attributed(brand_id: int, order_id: int, clerk_id: int, store_id: int | None, rule: str) -> None:
    events.publish(
        "order.attributed",
        brand_id=brand_id,
        order_id=order_id,
        clerk_id=clerk_id,
        store_id=store_id,
        rule=rule,
    )


def settle_cancelled(brand_id: int, order_ids: Sequence[int], *, chunk_size: int = 20_000) -> int:
    """Reverse the sale of any of these orders that is cancelled by now. Runs after the sale entries
    commit, so a cancellation that landed while the sale was being decided (its own reversal then
    saw no sale to give back) is still settled; reversals are idempotent, so both may run.
    Returns how many orders were settled."""
    settled = 0
    for chunk in chunks(sorted(order_ids), chunk_size):
        wanted = set(chunk)
        cancelled = (
            CommissionEntry.objects.filter(
                brand_id=brand_id,
                order_id__gte=chunk[0],
                order_id__lte=chunk[-1],
                kind=CommissionEntry.Kind.SALE,
                order__status=Order.Status.CANCELLED,
            )
            .values_list("order_id", flat=True)
            .distinct()
        )
        for order_id in cancelled:
            if order_id in wanted:
                reverse_for_cancellation(order_id)
                settled += 1
    return settled
