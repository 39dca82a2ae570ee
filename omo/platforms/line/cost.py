"""The LINE cost meter (selectors): free replies vs billed pushes per clerk, per store and per month.

LINE counts push (and multicast, per recipient) messages against the account's monthly plan;
replies with a reply token are free (platforms.md §A4). The plan is data on the inbox:
`Inbox.config["plan"] = {"included": 3000, "extra_price": 20}` (messages a month in the plan, and
the price of each extra message in minor units, TWD: 20 = NT$0.20). The estimate is the price of
the pushes beyond the included ones; each clerk and store is shown its share of it, pro rata.

Counted: outgoing messages that were sent, by `sent_at` in the brand's time zone; the clerk is
`Message.sender` (None = the system, e.g. automations) and the store is `Message.store`, recorded
when the message was queued (the sender's store then, or the conversation's store for a message
without a sender; older rows without it fall back to the sender's current store). Each
Message row is one message sent with one request (reply or push to one user). Failed sends are not
counted (LINE did not take them).

The overage (pushes beyond the plan's included messages, times the extra price) is shared among the
clerks (and, separately, the stores) in proportion to the pushes each sent that month, whole minor
units by the largest remainder (ties to the larger pusher, then the name), so the shares add up to
the estimate exactly. Replies are free and earn no share. The included quota is a month's pool: no
push is "the 3,001st" of one clerk more than of another.

`usage_for(actor, month)` is the brand's view for the cost page and the API: every LINE inbox, with
a store manager's rows limited to their own store (the account's totals stay: the quota is shared).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Count
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import pgettext

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.core.money import format_money
from omo.inbox.models import Inbox, Message, Platform


@dataclass(frozen=True)
class CostRow:
    key: int | None  # user id (by clerk) or store id (by store); None = system / no store
    label: str
    replies: int
    pushes: int
    estimated: int  # minor units, this row's share of the month's estimate
    store_id: int | None = None  # the clerk's store (by clerk) or the store itself (by store)

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
    def quota_used(self) -> int:
        return min(self.pushes, self.included)

    @property
    def quota_left(self) -> int:
        return max(0, self.included - self.pushes)

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


def shares(weights: list[int], total: int, order: list[str] | None = None) -> list[int]:
    """`total` split in proportion to `weights`, whole units that add up to `total` exactly (largest
    remainder; ties to the larger weight, then to `order`'s smaller label)."""
    weight_sum = sum(weights)
    if not weight_sum or not total:
        return [0] * len(weights)
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    labels = order or [""] * len(weights)
    left = total - sum(floors)
    ranked = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], labels[i], i))
    for index in ranked[:left]:
        floors[index] += 1
    return floors


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
        # The store recorded when the message was queued; rows from before it was recorded fall back to
        # the sender's current store.
        .annotate(
            counted_store=Coalesce("store_id", "sender__store_id"),
            counted_store_name=Coalesce("store__name", "sender__store__name"),
        )
        .values(
            "sender_id",
            "sender__display_name",
            "sender__username",
            "counted_store",
            "counted_store_name",
            "sent_via",
        )
        .annotate(count=Count("id"))
        .order_by()
    )
    # A clerk who sent for two stores in the month (moved, or helped out) has a row for each.
    clerks: dict[tuple[int | None, int | None], dict[str, Any]] = defaultdict(
        lambda: {"label": "", "reply": 0, "push": 0, "store_id": None, "key": None}
    )
    stores: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"label": "", "reply": 0, "push": 0, "store_id": None, "key": None}
    )
    for row in rows:
        via = "push" if row["sent_via"] == Message.SentVia.PUSH else "reply"
        clerk = clerks[(row["sender_id"], row["counted_store"])]
        clerk["label"] = (
            row["sender__display_name"] or row["sender__username"] or pgettext("line cost", "系統")
        )
        clerk["store_id"] = row["counted_store"]
        clerk["key"] = row["sender_id"]
        clerk[via] += row["count"]
        store = stores[row["counted_store"]]
        store["label"] = row["counted_store_name"] or pgettext("line cost", "總部")
        store["store_id"] = store["key"] = row["counted_store"]
        store[via] += row["count"]
    replies = sum(c["reply"] for c in clerks.values())
    pushes = sum(c["push"] for c in clerks.values())
    included, extra_price = plan_of(inbox)
    estimate = max(0, pushes - included) * extra_price

    def table(groups: dict[Any, dict[str, Any]]) -> list[CostRow]:
        found = list(groups.values())
        parts = shares([g["push"] for g in found], estimate, [g["label"] for g in found])
        result = [
            CostRow(g["key"], g["label"], g["reply"], g["push"], part, g["store_id"])
            for g, part in zip(found, parts, strict=True)
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


def line_inboxes(brand_id: int) -> list[Inbox]:
    return list(
        Inbox.objects.filter(brand_id=brand_id, platform=Platform.LINE)
        .select_related("brand")
        .order_by("name", "id")
    )


def scoped(report: CostReport, store_id: int | None) -> CostReport:
    """The report with only one store's rows (the account's totals unchanged), for a store manager."""
    if store_id is None:
        return report
    return replace(
        report,
        by_clerk=[row for row in report.by_clerk if row.store_id == store_id],
        by_store=[row for row in report.by_store if row.store_id == store_id],
    )


def usage_for(actor: Actor, month: dt.date) -> list[CostReport]:
    """Every LINE inbox of the actor's brand for one month; a store-scoped actor sees its store's rows
    only, anyone narrower nothing."""
    if actor.scope == Scope.BRAND:
        store_id = None
    elif actor.scope == Scope.STORE and actor.store_id:
        store_id = actor.store_id
    else:
        return []
    return [scoped(message_costs(inbox, month), store_id) for inbox in line_inboxes(actor.brand.pk)]


def this_and_last_month(time_zone: str, *, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    today = timezone.localtime(now or timezone.now(), zoneinfo.ZoneInfo(time_zone)).date()
    first = today.replace(day=1)
    return first, (first - dt.timedelta(days=1)).replace(day=1)
