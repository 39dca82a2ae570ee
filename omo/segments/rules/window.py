"""Parameters shared by fields over a span of time: `last_days`, or `from` / `to` calendar dates.

`last_days: N` is the N × 24 hours before now; `from` / `to` are whole calendar days in the brand's
time zone, both included. Without either the whole history counts.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from omo.segments.rules import values
from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import Condition, Ctx, Param

if TYPE_CHECKING:
    from omo.core.models import Brand

WINDOW_PARAMS = (
    Param(
        "last_days",
        gettext_lazy("過去幾天"),
        "days",
        values.integer(1, values.MAX_DAYS),
        excludes=("from", "to"),
    ),
    Param("from", gettext_lazy("開始日期"), "date", values.date),
    Param("to", gettext_lazy("結束日期"), "date", values.date),
)


def check_window(cond: Condition, brand: Brand) -> None:
    start, end = cond.param("from"), cond.param("to")
    if start is not None and end is not None and start > end:
        raise RuleError(f"{cond.path}.to" if cond.path else "to", _("結束日期不能早於開始日期。"))


def window_q(ctx: Ctx, cond: Condition, column: str) -> Q:
    """The condition's span of time on `column` (a time); Q() when there is none."""
    q = Q()
    days = cond.param("last_days")
    if days is not None:
        q &= Q(**{f"{column}__gte": ctx.now - dt.timedelta(days=days)})
    start: dt.date | None = cond.param("from")
    if start is not None:
        q &= Q(**{f"{column}__gte": ctx.day_start(start)})
    end: dt.date | None = cond.param("to")
    if end is not None:
        q &= Q(**{f"{column}__lt": ctx.day_start(end + dt.timedelta(days=1))})
    return q


def window_text(cond: Condition) -> str:
    days = cond.param("last_days")
    start, end = cond.param("from"), cond.param("to")
    if days is not None:
        return _("過去 {n} 天").format(n=days)
    if start is not None and end is not None:
        return _("{start} 至 {end}").format(start=start.isoformat(), end=end.isoformat())
    if start is not None:
        return _("{start} 起").format(start=start.isoformat())
    if end is not None:
        return _("{end} 以前").format(end=end.isoformat())
    return _("累計")
