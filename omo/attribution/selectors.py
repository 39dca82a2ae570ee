"""Reads of attribution and commission shared by the clerk app, the console and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from omo.attribution.models import Attribution, CommissionEntry
from omo.core.models import Brand
from omo.staff.models import User


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
        reversals=Sum(
            "amount", filter=Q(kind__in=[CommissionEntry.Kind.REVERSAL, CommissionEntry.Kind.CANCELLATION])
        ),
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


CANCELLED_REASON = "訂單已取消，扣回分潤 · Order cancelled; commission reversed"


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
                CANCELLED_REASON
                if entry.kind == CommissionEntry.Kind.CANCELLATION
                else reasons.get(entry.order_id, ""),
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
