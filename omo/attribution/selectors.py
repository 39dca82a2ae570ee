"""Reads of attribution and commission shared by the clerk app, the console and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from omo.attribution.models import Attribution, CommissionEntry
from omo.binding.models import Binding
from omo.core.models import Brand
from omo.inbox.models import Message
from omo.staff.models import Store, User


def parse_month(value: str | None, *, zone: ZoneInfo, today: dt.date | None = None) -> dt.date:
    """'YYYY-MM' → the first day of that month; empty → this month. ValueError names the problem."""
    if not value:
        now = today or dt.datetime.now(zone).date()
        return dt.date(now.year, now.month, 1)
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m")
    except ValueError as exc:
        raise ValueError("month must look like YYYY-MM, e.g. 2025-11") from exc
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("month is out of range")
    return dt.date(parsed.year, parsed.month, 1)


def month_bounds(month: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
    return start, nxt


def brand_zone(brand: Brand) -> ZoneInfo:
    try:
        return ZoneInfo(brand.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Taipei")


def clerk_attributions(brand: Brand, clerk: User, month: dt.date) -> QuerySet[Attribution]:
    """The clerk's attributed orders placed in the month, newest first."""
    start, end = month_bounds(month, brand_zone(brand))
    return (
        Attribution.objects.filter(
            brand=brand, clerk=clerk, order__placed_at__gte=start, order__placed_at__lt=end
        )
        .select_related("order", "clerk")
        .order_by("-order__placed_at", "-id")
    )


@dataclass(frozen=True)
class MonthSummary:
    orders: int
    sales: int
    commission: int
    reversals: int


def clerk_month_summary(brand: Brand, clerk: User, month: dt.date) -> MonthSummary:
    ledger = CommissionEntry.objects.filter(brand=brand, clerk=clerk, month=month).aggregate(
        sales=Sum("basis", filter=Q(kind=CommissionEntry.Kind.SALE)),
        commission=Sum("amount"),
        reversals=Sum("amount", filter=Q(kind=CommissionEntry.Kind.REVERSAL)),
        orders=Count("id", filter=Q(kind=CommissionEntry.Kind.SALE)),
    )
    return MonthSummary(
        ledger["orders"] or 0, ledger["sales"] or 0, ledger["commission"] or 0, ledger["reversals"] or 0
    )


def statement_entries(brand: Brand, clerk: User, month: dt.date) -> QuerySet[CommissionEntry]:
    return (
        CommissionEntry.objects.filter(brand=brand, clerk=clerk, month=month)
        .select_related("order", "refund")
        .order_by("created_at", "id")
    )


STATEMENT_HEADER = [
    "月份 month",
    "類型 kind",
    "訂單 order",
    "下單時間 placed_at",
    "銷售通路 sales_channel",
    "歸屬規則 rule",
    "歸屬原因 reason",
    "業績 basis",
    "分潤 commission",
]


def statement_csv(brand: Brand, clerk: User, month: dt.date) -> str:
    """The clerk's monthly commission statement as CSV (UTF-8 with BOM, so Excel reads the Chinese).

    The service the console uses for HQ downloads of any clerk's statement, too.
    """
    zone = brand_zone(brand)
    entries = list(statement_entries(brand, clerk, month))
    reasons = dict(
        Attribution.objects.filter(order_id__in={e.order_id for e in entries}).values_list(
            "order_id", "reason_zh"
        )
    )
    rules = dict(
        Attribution.objects.filter(order_id__in={e.order_id for e in entries}).values_list("order_id", "rule")
    )
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(STATEMENT_HEADER)
    for entry in entries:
        writer.writerow(
            [
                f"{month:%Y-%m}",
                entry.kind,
                entry.order.display_number,
                entry.order.placed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                entry.order.sales_channel,
                rules.get(entry.order_id, ""),
                reasons.get(entry.order_id, ""),
                _money(entry.basis),
                _money(entry.amount),
            ]
        )
    total_basis = sum(e.basis for e in entries)
    total_amount = sum(e.amount for e in entries)
    writer.writerow(
        [
            f"{month:%Y-%m}",
            "total",
            "",
            "",
            "",
            "",
            f"{clerk} 合計 total",
            _money(total_basis),
            _money(total_amount),
        ]
    )
    return out.getvalue()


def _money(minor: int) -> str:
    """Minor units as a plain decimal (NT$ has cents in our ledger: 12345 → 123.45)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


# --- leaderboards -------------------------------------------------------------------------------------------


@dataclass
class LeaderRow:
    key: int
    name: str
    sales: int = 0
    orders: int = 0
    link_orders: int = 0
    cards_sent: int = 0
    bound_customers: int = 0
    first_reply_seconds: list[float] | None = None

    @property
    def conversion(self) -> float | None:
        """Orders attributed via a clerk link per product card sent."""
        return self.link_orders / self.cards_sent if self.cards_sent else None

    @property
    def median_first_reply(self) -> float | None:
        return statistics.median(self.first_reply_seconds) if self.first_reply_seconds else None


def first_reply_times(brand: Brand, start: dt.datetime, end: dt.datetime) -> dict[int, list[float]]:
    """Seconds from a customer's message (the first after the last answer) to the next answer by a
    person, keyed by that person: how long customers waited for a human."""
    rows = (
        Message.objects.filter(brand=brand, created_at__gte=start, created_at__lt=end)
        .exclude(direction=Message.Direction.INTERNAL)
        .order_by("conversation_id", "created_at", "id")
        .values_list("conversation_id", "direction", "sender_id", "created_at")
    )
    waits: dict[int, list[float]] = defaultdict(list)
    current, waiting_since = None, None
    for conversation_id, direction, sender_id, created_at in rows.iterator(chunk_size=5000):
        if conversation_id != current:
            current, waiting_since = conversation_id, None
        if direction == Message.Direction.INBOUND:
            waiting_since = waiting_since or created_at
        elif sender_id is not None and waiting_since is not None:
            waits[sender_id].append((created_at - waiting_since).total_seconds())
            waiting_since = None
    return waits


def clerk_leaderboard(brand: Brand, month: dt.date, *, store: Store | None = None) -> list[LeaderRow]:
    zone = brand_zone(brand)
    start, end = month_bounds(month, zone)
    clerks = User.objects.filter(brand=brand, role__in=["clerk", "store_manager"], is_active=True)
    if store is not None:
        clerks = clerks.filter(store=store)
    rows = {c.pk: LeaderRow(c.pk, str(c)) for c in clerks}
    sales = (
        Attribution.objects.filter(
            brand=brand, clerk_id__in=rows, order__placed_at__gte=start, order__placed_at__lt=end
        )
        .exclude(order__status="cancelled")
        .values("clerk_id")
        .annotate(
            total=Sum("order__total"),
            refunded=Sum("order__refunded_total"),
            n=Count("id"),
            via_link=Count("id", filter=Q(rule=Attribution.Rule.LINK_CLICK)),
        )
    )
    for row in sales:
        leader = rows[row["clerk_id"]]
        leader.sales = (row["total"] or 0) - (row["refunded"] or 0)
        leader.orders, leader.link_orders = row["n"], row["via_link"]
    cards = (
        Message.objects.filter(
            brand=brand,
            kind=Message.Kind.FLEX,
            direction=Message.Direction.OUTBOUND,
            sender_id__in=rows,
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("sender_id")
        .annotate(n=Count("id"))
    )
    for row in cards:
        rows[row["sender_id"]].cards_sent = row["n"]
    bound = (
        Binding.objects.filter(brand=brand, clerk_id__in=rows, ended_at__isnull=True)
        .values("clerk_id")
        .annotate(n=Count("id"))
    )
    for row in bound:
        rows[row["clerk_id"]].bound_customers = row["n"]
    for sender_id, waits in first_reply_times(brand, start, end).items():
        if sender_id in rows:
            rows[sender_id].first_reply_seconds = waits
    return sorted(rows.values(), key=lambda r: (-r.sales, -r.orders, r.name))


def store_leaderboard(brand: Brand, month: dt.date) -> list[LeaderRow]:
    """The clerk rows summed per store (a clerk counts toward their current store)."""
    stores = {s.pk: LeaderRow(s.pk, s.name) for s in Store.objects.filter(brand=brand, is_active=True)}
    store_of = dict(User.objects.filter(brand=brand).values_list("id", "store_id"))
    for clerk_row in clerk_leaderboard(brand, month):
        store_row = stores.get(store_of.get(clerk_row.key))
        if store_row is None:
            continue
        store_row.sales += clerk_row.sales
        store_row.orders += clerk_row.orders
        store_row.link_orders += clerk_row.link_orders
        store_row.cards_sent += clerk_row.cards_sent
        store_row.bound_customers += clerk_row.bound_customers
        if clerk_row.first_reply_seconds:
            store_row.first_reply_seconds = (
                store_row.first_reply_seconds or []
            ) + clerk_row.first_reply_seconds
    return sorted(stores.values(), key=lambda r: (-r.sales, -r.orders, r.name))
