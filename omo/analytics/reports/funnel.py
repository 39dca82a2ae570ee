"""Chat → product-card click → credited order, per clerk and per store.

For each clerk in the period:

- **conversations**: distinct conversations in which the clerk sent a message (failed sends
  excluded);
- **card clicks**: clicks on the clerk's product-card and cart links (omo/attribution `Click`),
  link-preview fetchers excluded;
- **credited orders** and **credited sales**: orders placed in the period that attribution credits
  to the clerk, not cancelled (sales net of refunds).

A store's row sums its clerks (by their current store). The clerk and store filters narrow to the
clerk or the store's clerks; the sales-channel filter narrows the credited orders. Four queries:
one per step and one for the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Sum

from omo.analytics.reports.filters import ReportFilters
from omo.attribution.models import Attribution, Click
from omo.commerce.models import Order
from omo.inbox.models import Message
from omo.staff.models import User


@dataclass
class FunnelRow:
    key: int | None
    name: str
    store_id: int | None = None
    store_name: str = ""
    conversations: int = 0
    clicks: int = 0
    orders: int = 0
    sales: int = 0

    @property
    def click_rate(self) -> float | None:
        """Clicks per conversation."""
        return self.clicks / self.conversations if self.conversations else None

    @property
    def order_rate(self) -> float | None:
        """Credited orders per click."""
        return self.orders / self.clicks if self.clicks else None


@dataclass(frozen=True)
class Funnel:
    clerks: list[FunnelRow]
    stores: list[FunnelRow]

    @property
    def total(self) -> FunnelRow:
        row = FunnelRow(None, "")
        for clerk in self.clerks:
            row.conversations += clerk.conversations
            row.clicks += clerk.clicks
            row.orders += clerk.orders
            row.sales += clerk.sales
        return row


def funnel(filters: ReportFilters) -> Funnel:
    brand = filters.brand
    conversations = dict(
        Message.objects.filter(
            brand=brand,
            direction=Message.Direction.OUTBOUND,
            sender__isnull=False,
            created_at__gte=filters.start,
            created_at__lt=filters.end,
        )
        .exclude(status=Message.Status.FAILED)
        .order_by()
        .values("sender_id")
        .annotate(n=Count("conversation_id", distinct=True))
        .values_list("sender_id", "n")
    )
    clicks = dict(
        Click.objects.filter(
            brand=brand,
            clerk__isnull=False,
            is_preview=False,
            clicked_at__gte=filters.start,
            clicked_at__lt=filters.end,
        )
        .order_by()
        .values("clerk_id")
        .annotate(n=Count("id"))
        .values_list("clerk_id", "n")
    )
    credited = Attribution.objects.filter(
        brand=brand,
        clerk__isnull=False,
        order__placed_at__gte=filters.start,
        order__placed_at__lt=filters.end,
    ).exclude(order__status=Order.Status.CANCELLED)
    if filters.sales_channel:
        credited = credited.filter(order__sales_channel=filters.sales_channel)
    orders: dict[int, dict[str, Any]] = {
        row["clerk_id"]: dict(row)
        for row in credited.order_by()
        .values("clerk_id")
        .annotate(n=Count("id"), sales=Sum(F("order__total") - F("order__refunded_total")))
    }
    ids = set(conversations) | set(clicks) | set(orders)
    people = User.objects.filter(brand=brand, pk__in=ids)
    if filters.store_id is not None:
        people = people.filter(store_id=filters.store_id)
    if filters.clerk_id is not None:
        people = people.filter(pk=filters.clerk_id)
    clerks = []
    for pk, display, username, store_id, store_name in people.values_list(
        "pk", "display_name", "username", "store_id", "store__name"
    ):
        order = orders.get(pk, {})
        clerks.append(
            FunnelRow(
                pk,
                display or username,
                store_id=store_id,
                store_name=store_name or "",
                conversations=conversations.get(pk, 0),
                clicks=clicks.get(pk, 0),
                orders=order.get("n", 0),
                sales=int(order.get("sales") or 0),
            )
        )
    clerks.sort(key=lambda row: (-row.orders, -row.clicks, -row.conversations, row.name, row.key or 0))
    return Funnel(clerks=clerks, stores=_stores(clerks))


def _stores(clerks: list[FunnelRow]) -> list[FunnelRow]:
    stores: dict[int | None, FunnelRow] = {}
    for clerk in clerks:
        row = stores.setdefault(clerk.store_id, FunnelRow(clerk.store_id, clerk.store_name))
        row.conversations += clerk.conversations
        row.clicks += clerk.clicks
        row.orders += clerk.orders
        row.sales += clerk.sales
    return sorted(stores.values(), key=lambda row: (-row.orders, -row.clicks, row.name, row.key or 0))
