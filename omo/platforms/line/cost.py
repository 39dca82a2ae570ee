"""The LINE cost meter (selectors): free replies vs billed pushes per clerk, per store and per month.

LINE counts push (and multicast, per recipient) messages against the account's monthly plan;
replies with a reply token are free (platforms.md §A4). The plan is data on the inbox:
`Inbox.config["plan"] = {"included": 3000, "extra_price": 20}` (messages a month in the plan, and
the price of each extra message in minor units, TWD: 20 = NT$0.20). The estimate is the price of
the pushes beyond the included ones; each clerk and store is shown its share of it, pro rata.

Counted: outgoing messages that were sent, by `sent_at` in the brand's time zone; the clerk is
`Message.sender` (None = the system, e.g. automations) and the store is the clerk's store.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from omo.core.money import format_money
from omo.inbox.models import Inbox, Message


@dataclass(frozen=True)
class CostRow:
    key: int | None  # user id (by clerk) or store id (by store); None = system / no store
    label: str
    replies: int
    pushes: int
    estimated: int  # minor units, this row's share of the month's estimate

    @property
    def estimated_display(self) -> str:
        return format_money(self.estimated, "TWD")


@dataclass(frozen=True)
class CostReport:
    inbox_id: int
    month: dt.date  # first day of the month
    included: int
    extra_price: int  # minor units per message beyond the plan
    replies: int
    pushes: int
    by_clerk: list[CostRow] = field(default_factory=list)
    by_store: list[CostRow] = field(default_factory=list)
    currency: str = "TWD"

    @property
    def extra_messages(self) -> int:
        return max(0, self.pushes - self.included)

    @property
    def estimated(self) -> int:
        return self.extra_messages * self.extra_price

    @property
    def estimated_display(self) -> str:
        return format_money(self.estimated, self.currency)

    @property
    def free_share(self) -> float:
        total = self.replies + self.pushes
        return self.replies / total if total else 0.0


def plan_of(inbox: Inbox) -> tuple[int, int]:
    plan = (inbox.config or {}).get("plan") or {}
    return int(plan.get("included") or 0), int(plan.get("extra_price") or 0)


def month_bounds(month: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    following = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
    return start, following


def _share(pushes: int, total_pushes: int, estimate: int) -> int:
    return (estimate * pushes + total_pushes // 2) // total_pushes if total_pushes else 0


def message_costs(inbox: Inbox, month: dt.date | None = None) -> CostReport:
    """Replies, pushes and the NT$ estimate of one LINE inbox for one month (default: this month)."""
    time_zone = inbox.brand.time_zone or "Asia/Taipei"
    if month is None:
        month = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(time_zone)).date()
    month = month.replace(day=1)
    start, end = month_bounds(month, time_zone)
    rows = (
        Message.objects.filter(
            conversation__inbox=inbox,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.SENT,
            sent_at__gte=start,
            sent_at__lt=end,
        )
        .values(
            "sender_id",
            "sender__display_name",
            "sender__username",
            "sender__store_id",
            "sender__store__name",
            "sent_via",
        )
        .annotate(count=Count("id"))
    )
    clerks: dict[int | None, dict[str, Any]] = defaultdict(lambda: {"label": "", "reply": 0, "push": 0})
    stores: dict[int | None, dict[str, Any]] = defaultdict(lambda: {"label": "", "reply": 0, "push": 0})
    for row in rows:
        via = "push" if row["sent_via"] == Message.SentVia.PUSH else "reply"
        clerk = clerks[row["sender_id"]]
        clerk["label"] = row["sender__display_name"] or row["sender__username"] or "系統 / System"
        clerk[via] += row["count"]
        store = stores[row["sender__store_id"]]
        store["label"] = row["sender__store__name"] or "總部 / HQ"
        store[via] += row["count"]
    replies = sum(c["reply"] for c in clerks.values())
    pushes = sum(c["push"] for c in clerks.values())
    included, extra_price = plan_of(inbox)
    estimate = max(0, pushes - included) * extra_price

    def table(groups: dict[int | None, dict[str, Any]]) -> list[CostRow]:
        result = [
            CostRow(key, g["label"], g["reply"], g["push"], _share(g["push"], pushes, estimate))
            for key, g in groups.items()
        ]
        return sorted(result, key=lambda r: (-r.pushes, -r.replies, r.label))

    return CostReport(
        inbox_id=inbox.pk,
        month=month,
        included=included,
        extra_price=extra_price,
        replies=replies,
        pushes=pushes,
        by_clerk=table(clerks),
        by_store=table(stores),
    )
