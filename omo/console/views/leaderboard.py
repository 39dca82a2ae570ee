"""Clerk and store leaderboards (業績排行): a period, a board, a sort column; scoped like the viewer.

Store managers see their own store's clerks (and their store's row); HQ sees the whole brand.
Unknown query values fall back to the defaults (this month, clerks, by sales).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils.translation import pgettext, pgettext_lazy

from omo.attribution import leaderboard
from omo.console.access import ConsoleRequest, console_view
from omo.console.pages import render_page
from omo.staff.roles import Scope

PERIOD_LABELS = {
    "this_month": pgettext_lazy("leaderboard", "本月"),
    "last_month": pgettext_lazy("leaderboard", "上個月"),
    "last_30_days": pgettext_lazy("leaderboard", "近 30 天"),
}
BOARDS = {
    "clerks": pgettext_lazy("leaderboard", "店員"),
    "stores": pgettext_lazy("leaderboard", "門市"),
}
COLUMNS = (
    ("name", pgettext_lazy("leaderboard", "名稱")),
    ("sales", pgettext_lazy("leaderboard", "歸屬業績")),
    ("orders", pgettext_lazy("leaderboard", "歸屬訂單")),
    ("bound", pgettext_lazy("leaderboard", "綁定顧客")),
    ("conversion", pgettext_lazy("leaderboard", "卡片轉換率")),
    ("reply", pgettext_lazy("leaderboard", "首次回覆中位數")),
)


def reply_text(seconds: float | None) -> str:
    """A wait as people say it: 45 秒, 4 分 30 秒, 2 小時 5 分; an em dash when there is none."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return pgettext("leaderboard", "%(h)d 小時 %(m)d 分") % {"h": hours, "m": minutes}
    if minutes:
        return pgettext("leaderboard", "%(m)d 分 %(s)d 秒") % {"m": minutes, "s": secs}
    return pgettext("leaderboard", "%(s)d 秒") % {"s": secs}


def _choice(value: str | None, allowed, default: str) -> str:
    return value if value is not None and value in allowed else default


@console_view("dashboard.view")
def leaderboard_page(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    brand = user.brand
    store_id = user.store_id if user.scope == Scope.STORE else None
    period_key = _choice(request.GET.get("period"), leaderboard.PERIODS, leaderboard.DEFAULT_PERIOD)
    board = _choice(request.GET.get("board"), BOARDS, "clerks")
    sort = _choice(request.GET.get("sort"), leaderboard.SORTS, leaderboard.DEFAULT_SORT)
    direction = request.GET.get("dir")
    descending = leaderboard.SORTS[sort] if direction not in ("asc", "desc") else direction == "desc"

    period = leaderboard.period_for(brand, period_key)
    build = leaderboard.clerk_board if board == "clerks" else leaderboard.store_board
    rows = leaderboard.sort_rows(build(brand, period, store_id=store_id), sort, descending)
    for row in rows:
        row.reply_text = reply_text(row.median_reply_seconds)  # type: ignore[attr-defined]  # for the template

    def url(**changes: str) -> str:
        params = {"period": period_key, "board": board, "sort": sort, "dir": "desc" if descending else "asc"}
        params.update(changes)
        return f"?{urlencode(params)}"

    columns = []
    for key, label in COLUMNS:
        active = key == sort
        next_desc = (not descending) if active else leaderboard.SORTS[key]
        columns.append(
            {
                "key": key,
                "label": label,
                "active": active,
                "descending": descending if active else None,
                "url": url(sort=key, dir="desc" if next_desc else "asc"),
                "aria_sort": ("descending" if descending else "ascending") if active else "none",
            }
        )
    return render_page(
        request,
        "console/leaderboard.html",
        {
            "rows": rows,
            "period": period,
            "period_key": period_key,
            "periods": [
                {"key": key, "label": PERIOD_LABELS[key], "url": url(period=key), "active": key == period_key}
                for key in leaderboard.PERIODS
            ],
            "board": board,
            "boards": [
                {"key": key, "label": label, "url": url(board=key), "active": key == board}
                for key, label in BOARDS.items()
            ],
            "columns": columns,
            "sort": sort,
            "scope_store": user.store if store_id is not None else None,
        },
    )
