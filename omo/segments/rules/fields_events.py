"""Tracked events: `events.count` of one event name in a window, with property filters.

    {"field": "events.count", "op": "gte", "value": 2, "event": "Product Viewed", "last_days": 30,
     "where": [{"property": "category", "op": "eq", "value": "shoes"}]}

Property filters use the database's JSON functions (json_type / json_extract on SQLite, jsonb on
PostgreSQL) on the event's `properties`: a value equals only the same JSON value of the same type
("shoes" never matches "shoes2", "1" never matches 1); gt / lt compare numbers only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from omo.segments.rules import values
from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import NUMERIC_OPS, Choice, Condition, Ctx, FieldSpec, Param, register
from omo.segments.rules.sql import JsonPropertyTest, aggregate_test, judge_number
from omo.segments.rules.values import quote
from omo.segments.rules.window import WINDOW_PARAMS, check_window, window_q, window_text
from omo.tracking.models import TrackedEvent

if TYPE_CHECKING:
    from omo.core.models import Brand

PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$\-]{0,63}$")
PROPERTY_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")
MAX_FILTERS = 10
EVENT_TYPES = ("track", "page", "screen")


def _type_choices(brand: Brand | None = None) -> list[Choice]:
    return [
        Choice("track", _("自訂事件（track）")),
        Choice("page", _("瀏覽網頁（page）")),
        Choice("screen", _("App 畫面（screen）")),
    ]


def _scalar(path: str, raw: Any) -> Any:
    if raw is None or isinstance(raw, str | bool | int | float):
        return raw
    raise RuleError(path, _("必須是文字、數字、true、false 或 null。"))


def _number(path: str, raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise RuleError(path, _("必須是數字。"))
    return raw


def check_where(path: str, raw: Any, brand: Brand) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list):
        raise RuleError(path, _("必須是屬性條件的清單。"))
    if len(raw) > MAX_FILTERS:
        raise RuleError(path, _("最多 {n} 個屬性條件。").format(n=MAX_FILTERS))
    checked = []
    for index, item in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise RuleError(here, _("必須是含 property、op、value 的屬性條件。"))
        for key in item:
            if key not in ("property", "op", "value"):
                raise RuleError(f"{here}.{key}", _("屬性條件沒有參數 {key}。").format(key=f"“{key}”"))
        name = item.get("property")
        if not isinstance(name, str) or not PROPERTY_NAME.match(name) or "__" in name:
            raise RuleError(f"{here}.property", _("屬性名稱只能用英文字母、數字、_、-、$，最多 64 個字。"))
        op = item.get("op")
        if op not in PROPERTY_OPS:
            raise RuleError(
                f"{here}.op", _("屬性條件的運算子必須是 {ops} 其中之一。").format(ops=", ".join(PROPERTY_OPS))
            )
        value: Any = None
        if op != "exists":
            if "value" not in item:
                raise RuleError(f"{here}.value", _("缺少值 value。"))
            raw_value = item["value"]
            if op == "in":
                if not isinstance(raw_value, list) or not raw_value:
                    raise RuleError(f"{here}.value", _("in 的值必須是至少一個項目的清單。"))
                value = [_scalar(f"{here}.value[{i}]", v) for i, v in enumerate(raw_value)]
            elif op in ("gt", "gte", "lt", "lte"):
                value = _number(f"{here}.value", raw_value)
            else:
                value = _scalar(f"{here}.value", raw_value)
        elif "value" in item and not isinstance(item["value"], bool):
            raise RuleError(f"{here}.value", _("exists 的值必須是 true 或 false。"))
        else:
            value = item.get("value", True)
        checked.append({"property": name, "op": op, "value": value})
    return tuple(checked)


def property_q(name: str, op: str, value: Any) -> Q:
    if op == "exists":
        found = Q(JsonPropertyTest("properties", name, "exists", None))
        return found if value else ~found
    if op == "in":
        q = Q(pk__in=[])
        for item in value:
            q |= Q(JsonPropertyTest("properties", name, "eq", item))
        return q
    if op == "ne":
        return ~Q(JsonPropertyTest("properties", name, "eq", value))
    return Q(JsonPropertyTest("properties", name, op, value))


def matching_events(ctx: Ctx, cond: Condition, *, brand: bool = True) -> QuerySet[TrackedEvent]:
    """The brand's events the condition counts; `brand=False` when a customer narrows them already."""
    events = TrackedEvent.objects.filter(
        window_q(ctx, cond, "timestamp"), type=cond.param("type", "track"), event=cond.param("event")
    )
    if brand:
        events = events.filter(brand_id=ctx.brand.pk)
    for item in cond.param("where", ()):
        events = events.filter(property_q(item["property"], item["op"], item["value"]))
    return events.order_by()


def event_count_test(ctx: Ctx, cond: Condition) -> Q:
    return aggregate_test(matching_events(ctx, cond), "customer", Count("pk"), cond.op, cond.value)


def event_count(ctx: Ctx, cond: Condition) -> BaseExpression:
    """The customer's own count, for the explanation."""
    own = matching_events(ctx, cond, brand=False).filter(customer=OuterRef("pk"))
    per_customer = own.values("customer").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(per_customer), 0)


def _filters_text(cond: Condition) -> str:
    words = {
        "eq": "=",
        "ne": "≠",
        "gt": ">",
        "gte": "≥",
        "lt": "<",
        "lte": "≤",
    }
    parts = []
    for item in cond.param("where", ()):
        name, op, value = item["property"], item["op"], item["value"]
        if op == "exists":
            parts.append(
                _("有 {name} 屬性").format(name=name) if value else _("沒有 {name} 屬性").format(name=name)
            )
        elif op == "in":
            parts.append(_("{name} 是 {items} 其中之一").format(name=name, items="、".join(map(str, value))))
        else:
            parts.append(f"{name} {words[op]} {value}")
    return _("（{filters}）").format(filters=_("，").join(parts)) if parts else ""


def _fact(cond: Condition, actual: Any) -> str:
    return _("{window}發生{event}{filters} {n} 次").format(
        window=window_text(cond), event=quote(cond.param("event")), filters=_filters_text(cond), n=actual or 0
    )


register(
    FieldSpec(
        name="events.count",
        group="events",
        label=lambda: _("追蹤事件次數"),
        description=lambda: _("同一個事件名稱在期間內發生的次數，可再依事件屬性篩選。"),
        value=values.COUNT,
        ops=NUMERIC_OPS,
        params=(
            Param("event", gettext_lazy("事件名稱"), "text", values.text, required=True),
            Param(
                "type",
                gettext_lazy("事件類型"),
                "event_type",
                values.one_of(_type_choices),
                choices=_type_choices,
            ),
            *WINDOW_PARAMS,
            Param("where", gettext_lazy("屬性條件"), "property_filters", check_where),
        ),
        test=event_count_test,
        judge=judge_number,
        measure=event_count,
        fact=_fact,
        validate=check_window,
    ),
)
