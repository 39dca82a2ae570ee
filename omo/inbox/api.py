"""REST endpoints for the inbox rules: the reply SLA and each store's opening hours.

GET/PATCH /settings/inbox (SLA minutes; the stores' hours shown alongside) and
PATCH /settings/inbox/stores/{store_id} (one store's week). Store managers read their own store.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from omo.core.api import ErrorOut, actor_of, allow, get_or_404
from omo.inbox import rules, selectors
from omo.staff import hours
from omo.staff.models import Store
from omo.staff.selectors import visible_stores

router = Router(tags=["settings"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}

WEEK_DESCRIPTION = (
    'e.g. {"mon": [["10:00", "21:30"]], ..., "sun": []}: every weekday mon … sun, a day without '
    'periods is closed; "24:00" is midnight; an end before its start runs past midnight'
)


class StoreHoursOut(Schema):
    id: int
    code: str
    name: str
    opening_hours: dict[str, list[list[str]]] = Field(..., description=WEEK_DESCRIPTION)


class InboxRulesOut(Schema):
    sla_minutes: int = Field(..., description="minutes a customer may wait for a first reply (1–1440)")
    stores: list[StoreHoursOut]


class InboxRulesPatch(Schema):
    sla_minutes: int | None = Field(None, description="1–1440")


class StoreHoursIn(Schema):
    opening_hours: dict[str, list[list[str]]] = Field(..., description=WEEK_DESCRIPTION)


def _periods(value: Any) -> list[list[str]]:
    """A day's periods as stored; entries written before hours were checked and not [start, end] are left out."""
    if not isinstance(value, list):
        return []
    return [[str(p[0]), str(p[1])] for p in value if isinstance(p, list | tuple) and len(p) == 2]


def store_out(store: Store) -> dict[str, Any]:
    week = store.opening_hours if isinstance(store.opening_hours, dict) else {}
    return {
        "id": store.pk,
        "code": store.code,
        "name": store.name,
        "opening_hours": {day: _periods(week.get(day)) for day in hours.DAY_KEYS},
    }


def _rules(request: HttpRequest) -> dict[str, Any]:
    actor = actor_of(request)
    return {
        "sla_minutes": selectors.inbox_settings(actor.brand.pk).sla_minutes,
        "stores": [store_out(store) for store in visible_stores(actor).order_by("code")],
    }


@router.get("/settings/inbox", auth=allow("rules.read"), response={200: InboxRulesOut, **ERRORS})
def get_inbox_rules(request: HttpRequest):
    """The reply SLA (10 minutes when never set) and the opening hours of the stores you see."""
    return _rules(request)


@router.patch("/settings/inbox", auth=allow("rules.write"), response={200: InboxRulesOut, **ERRORS})
def update_inbox_rules(request: HttpRequest, data: InboxRulesPatch):
    """Change the reply SLA (audited as inbox_settings.sla_changed)."""
    actor = actor_of(request)
    if "sla_minutes" in data.model_fields_set:
        rules.update_sla(actor.brand, sla_minutes=data.sla_minutes, actor=actor)
    return _rules(request)


@router.patch(
    "/settings/inbox/stores/{store_id}", auth=allow("rules.write"), response={200: StoreHoursOut, **ERRORS}
)
def update_store_hours(request: HttpRequest, store_id: int, data: StoreHoursIn):
    """Replace one store's week of opening hours (audited as store.opening_hours_changed)."""
    actor = actor_of(request)
    store = get_or_404(visible_stores(actor), f"store {store_id}", pk=store_id)
    return store_out(hours.set_opening_hours(store, data.opening_hours, actor=actor))
