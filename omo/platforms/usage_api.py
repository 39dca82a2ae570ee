"""GET /message-usage: the LINE message plan's use and cost, per account, clerk and store.

`message_usage.read` (HQ roles: the whole brand; a store manager's key: the account totals and its own
store's rows; clerk keys are refused). Without `month`, this month and last month (brand time zone);
with `month=YYYY-MM`, that month only. How the overage is shared: omo/platforms/line/cost.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from omo.core.api import ApiError, ErrorOut, actor_of, allow
from omo.platforms.line import cost

router = Router(tags=["message usage"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


class UsageRowOut(Schema):
    id: int | None = Field(..., description="staff id (by clerk) or store id (by store); null = system / HQ")
    label: str
    replies: int = Field(..., description="free replies (reply token)")
    pushes: int = Field(..., description="billed pushes")
    estimated: int = Field(..., description="this row's share of the overage cost, minor units")


class InboxUsageOut(Schema):
    inbox_id: int
    name: str
    included: int = Field(..., description="messages a month in the plan")
    extra_price: int = Field(..., description="minor units per message beyond the plan (20 = NT$0.20)")
    replies: int
    pushes: int
    quota_used: int = Field(..., description="pushes counted against the included messages")
    quota_left: int
    extra_messages: int = Field(..., description="pushes beyond the plan")
    estimated: int = Field(..., description="NT$ cost of the extra messages, minor units")
    by_clerk: list[UsageRowOut]
    by_store: list[UsageRowOut]


class MonthUsageOut(Schema):
    month: str
    currency: str = "TWD"
    inboxes: list[InboxUsageOut]


class UsageOut(Schema):
    months: list[MonthUsageOut]


def _row(row: cost.CostRow) -> dict[str, Any]:
    return {
        "id": row.key,
        "label": row.label,
        "replies": row.replies,
        "pushes": row.pushes,
        "estimated": row.estimated,
    }


def report_out(report: cost.CostReport, name: str) -> dict[str, Any]:
    return {
        "inbox_id": report.inbox_id,
        "name": name,
        "included": report.included,
        "extra_price": report.extra_price,
        "replies": report.replies,
        "pushes": report.pushes,
        "quota_used": report.quota_used,
        "quota_left": report.quota_left,
        "extra_messages": report.extra_messages,
        "estimated": report.estimated,
        "by_clerk": [_row(row) for row in report.by_clerk],
        "by_store": [_row(row) for row in report.by_store],
    }


def parse_month(value: str) -> dt.date:
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise ApiError(
            422, "invalid_month", "month must look like YYYY-MM, e.g. 2026-11", field="month"
        ) from None
    if not 2000 <= parsed.year <= 2100:
        raise ApiError(422, "invalid_month", "month is out of range", field="month")
    return dt.date(parsed.year, parsed.month, 1)


@router.get("/message-usage", auth=allow("message_usage.read"), response={200: UsageOut, **ERRORS})
def message_usage(request: HttpRequest, month: str | None = None):
    """Free replies vs billed pushes, the plan's quota used and the NT$ cost of pushes beyond it, per
    LINE account, clerk and store; the cost is shared by each one's pushes."""
    actor = actor_of(request)
    months = [parse_month(month)] if month else list(cost.this_and_last_month(actor.brand.time_zone))
    names = {inbox.pk: inbox.name for inbox in cost.line_inboxes(actor.brand.pk)}
    return {
        "months": [
            {
                "month": f"{chosen:%Y-%m}",
                "inboxes": [
                    report_out(report, names.get(report.inbox_id, ""))
                    for report in cost.usage_for(actor, chosen)
                ],
            }
            for chosen in months
        ]
    }
