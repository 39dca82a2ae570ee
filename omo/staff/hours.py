"""A store's opening hours: read, checked and changed (audited as `store.opening_hours_changed`).

Stored on `Store.opening_hours` as {"mon": [["10:00", "21:30"]], ..., "sun": []}: a weekday with no
periods is a closed day; "24:00" ends at midnight, and an end before its start runs past midnight.
The inbox routes by them (omo/inbox/routing.py): a closed store's customers go to HQ.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.staff.models import Store

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES_ZH = {
    "mon": "週一",
    "tue": "週二",
    "wed": "週三",
    "thu": "週四",
    "fri": "週五",
    "sat": "週六",
    "sun": "週日",
}
MAX_PERIODS = 4
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$")


class HoursError(FieldError, ValueError):
    status = 422


def _time(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not _TIME.match(text):
        raise HoursError(field, f"時間須為 HH:MM（00:00–24:00），收到「{text}」/ a time as HH:MM")
    hours, minutes = text.split(":")
    return f"{int(hours):02d}:{minutes}"


def clean_hours(raw: Any) -> dict[str, list[list[str]]]:
    """The week as stored, or a HoursError naming the day (`opening_hours.mon`) that is wrong."""
    if not isinstance(raw, dict):
        raise HoursError("opening_hours", gettext("營業時間須為每週七天的時段"))
    unknown = sorted(set(raw) - set(DAY_KEYS))
    if unknown:
        raise HoursError(f"opening_hours.{unknown[0]}", gettext("不認得的星期"))
    week: dict[str, list[list[str]]] = {}
    for day in DAY_KEYS:
        field = f"opening_hours.{day}"
        periods = raw.get(day) or []
        if not isinstance(periods, list) or len(periods) > MAX_PERIODS:
            raise HoursError(field, gettext("每天最多 %(max_periods)s 個時段") % {"max_periods": MAX_PERIODS})
        cleaned = []
        for period in periods:
            if not isinstance(period, list | tuple) or len(period) != 2:
                raise HoursError(field, "時段須為［開始, 結束］/ a period is [start, end]")
            start, end = _time(period[0], field), _time(period[1], field)
            if start == "24:00" or start == end:
                raise HoursError(
                    field,
                    gettext("%(day)s %(start)s–%(end)s 不是有效時段")
                    % {"day": DAY_NAMES_ZH[day], "start": start, "end": end},
                )
            cleaned.append([start, end])
        week[day] = sorted(cleaned)
    return week


def parse_day_text(text: str, day: str) -> list[list[str]]:
    """ "10:00-14:00, 17:00-21:30" (as typed on the console) into periods; empty = closed."""
    periods = []
    for part in (text or "").replace("，", ",").split(","):
        part = part.strip().replace("–", "-").replace("~", "-")
        if not part:
            continue
        start, sep, end = part.partition("-")
        if not sep:
            raise HoursError(
                f"opening_hours.{day}", gettext("「%(part)s」請寫成 10:00-21:30") % {"part": part}
            )
        periods.append([start.strip(), end.strip()])
    return periods


def day_text(periods: Any) -> str:
    """A day's periods as typed on the console ("10:00-14:00, 17:00-21:30"); malformed entries left out."""
    if not isinstance(periods, list):
        return ""
    return ", ".join(f"{p[0]}-{p[1]}" for p in periods if isinstance(p, list | tuple) and len(p) == 2)


def set_opening_hours(store: Store, hours: Any, *, actor: Actor) -> Store:
    """Replace the store's week of opening hours (all seven days); audited."""
    if store.brand_id != actor.brand.pk:
        raise HoursError("store", gettext("找不到門市"), status=404)
    week = clean_hours(hours)
    with transaction.atomic():
        locked = Store.objects.select_for_update().get(pk=store.pk)
        before = locked.opening_hours
        locked.opening_hours = week
        locked.save(update_fields=["opening_hours"])
        audit.record(actor, "store.opening_hours_changed", locked, before=before, after=week)
    store.opening_hours = week
    return store
