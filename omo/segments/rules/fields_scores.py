"""Fields read from the per-customer scores: RFM (`rfm.*`), the lifecycle groups (`lifecycle.*`),
the CLV predictions (`predicted.*`), and membership of another segment (`segment`).

A customer without a score or prediction row matches none of the positive conditions (eq, in, gte…)
and every negative one (ne, not_in), as if the value were "none".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from omo.segments import rfm
from omo.segments.models import CustomerPrediction, CustomerScore, Segment, SegmentMember
from omo.segments.rules import values
from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import (
    BOOL_OPS,
    CHOICE_OPS,
    NUMERIC_OPS,
    SET_OPS,
    Choice,
    Condition,
    Ctx,
    FieldSpec,
    ValueType,
    register,
)
from omo.segments.rules.sql import exists_compare
from omo.segments.rules.values import quote

if TYPE_CHECKING:
    from omo.core.models import Brand

# The named RFM segments as omo.segments.rfm names them (it writes them into CustomerScore.rfm_segment).
RFM_SEGMENTS: tuple[tuple[str, Callable[[], str]], ...] = (
    *((named.key, lambda named=named: str(named.name)) for named in rfm.NAMED_SEGMENTS),
    (rfm.PROSPECT, lambda: _("潛在顧客（未下單）")),
)
VALUE_GROUPS = (
    ("loyal", lambda: _("忠誠顧客")),
    ("general", lambda: _("一般顧客")),
    ("potential", lambda: _("潛在顧客")),
)
ACTIVITY = (
    ("active", lambda: _("活躍")),
    ("dormant", lambda: _("沉睡")),
    ("prospect", lambda: _("未下單")),
)
CHANNEL_MIX = (
    ("omo", lambda: _("線上線下都買（OMO）")),
    ("online", lambda: _("只在線上買")),
    ("store", lambda: _("只在門市買")),
    ("none", lambda: _("沒有訂單")),
)


def _choice_type(kind: str, options: tuple[tuple[str, Callable[[], str]], ...]) -> ValueType:
    def choices(brand: Brand | None = None) -> list[Choice]:
        return [Choice(value, label()) for value, label in options]

    def show(item: Any) -> str:
        labels = {value: label for value, label in options}
        return quote(labels[item]()) if item in labels else _("（無）")

    return ValueType(kind, values.one_of(choices), show, choices=choices)


def _scores() -> QuerySet[CustomerScore]:
    return CustomerScore.objects.filter(customer=OuterRef("pk"))


def _predictions() -> QuerySet[CustomerPrediction]:
    return CustomerPrediction.objects.filter(customer=OuterRef("pk"))


def _column_field(
    name: str,
    label: Callable[[], str],
    rows: Callable[[], QuerySet[Any]],
    column: str,
    value: ValueType,
    ops: tuple[str, ...],
    group: str,
    description: Callable[[], str] = lambda: "",
) -> FieldSpec:
    def fact(cond: Condition, actual: Any) -> str:
        shown = _("沒有資料") if actual is None else value.show(actual)
        return _("{label}：{value}").format(label=label(), value=shown)

    return FieldSpec(
        name=name,
        group=group,
        label=label,
        description=description,
        value=value,
        ops=ops,
        test=lambda ctx, cond: exists_compare(rows(), column, cond.op, cond.value),
        measure=lambda ctx, cond: Subquery(rows().values(column)[:1]),
        fact=fact,
    )


# --- rfm.cell: "555" --------------------------------------------------------------------------


def _check_cell(path: str, raw: Any, brand: Brand) -> str:
    if not isinstance(raw, str) or len(raw) != 3 or any(digit not in "12345" for digit in raw):
        raise RuleError(path, _("必須是三位數的 RFM 組合，每位 1 到 5，例如 “555”。"))
    return raw


def _cells_q(cells: Any) -> Q:
    q = Q(pk__in=[])
    for cell in cells if isinstance(cells, tuple) else (cells,):
        q |= Q(r=int(cell[0]), f=int(cell[1]), m=int(cell[2]))
    return q


def _cell_test(ctx: Ctx, cond: Condition) -> Q:
    positive = Exists(_scores().filter(_cells_q(cond.value)))
    return ~Q(positive) if cond.op in ("ne", "not_in") else Q(positive)


def _cell_measure(ctx: Ctx, cond: Condition) -> BaseExpression:
    text = CharField()
    cell = Concat(Cast("r", text), Cast("f", text), Cast("m", text), output_field=text)
    return Subquery(_scores().filter(r__gt=0).annotate(cell=cell).values("cell")[:1])


CELL = ValueType("rfm_cell", _check_cell, quote)


# --- segment membership -----------------------------------------------------------------------


def _segment_name(pk: Any) -> str:
    name = Segment.objects.filter(pk=pk).values_list("name", flat=True).first()
    return quote(name) if name else f"#{pk}"


def _segment_choices(brand: Brand) -> list[Choice]:
    return [Choice(pk, name) for pk, name in Segment.objects.filter(brand=brand).values_list("pk", "name")]


SEGMENT = values.ids_value(
    "segment", Segment, lambda: pgettext("segment rule", "分眾"), _segment_name, _segment_choices
)


def _membership(cond: Condition) -> Exists:
    return Exists(
        SegmentMember.objects.filter(
            segment_id=cond.value,
            customer=OuterRef("pk"),
            version=Subquery(Segment.objects.filter(pk=cond.value).values("version")[:1]),
        )
    )


def _segment_fact(cond: Condition, actual: Any) -> str:
    name = _segment_name(cond.value)
    if actual:
        return _("是分眾{name}的成員").format(name=name)
    return _("不是分眾{name}的成員").format(name=name)


register(
    _column_field(
        "rfm.segment",
        lambda: _("RFM 分群"),
        _scores,
        "rfm_segment",
        _choice_type("rfm_segment", RFM_SEGMENTS),
        CHOICE_OPS,
        "rfm",
    ),
    *(
        _column_field(
            f"rfm.{letter}",
            label,
            _scores,
            letter,
            ValueType("score", values.integer(0, 5), values.show_plain),
            NUMERIC_OPS,
            "rfm",
            lambda: _("1 到 5 分，5 分最好；未下單的顧客為 0。"),
        )
        for letter, label in (
            ("r", lambda: _("RFM 近期分數（R）")),
            ("f", lambda: _("RFM 頻率分數（F）")),
            ("m", lambda: _("RFM 金額分數（M）")),
        )
    ),
    FieldSpec(
        name="rfm.cell",
        group="rfm",
        label=lambda: _("RFM 組合"),
        description=lambda: _("R、F、M 三個分數，例如 “555”。"),
        value=CELL,
        ops=CHOICE_OPS,
        test=_cell_test,
        measure=_cell_measure,
        fact=lambda cond, actual: _("{label}：{value}").format(
            label=_("RFM 組合"), value=quote(actual) if actual else _("沒有資料")
        ),
    ),
    _column_field(
        "rfm.recency_days",
        lambda: _("距上次下單天數"),
        _scores,
        "recency_days",
        values.DAYS,
        NUMERIC_OPS,
        "rfm",
        lambda: _("依最近一次計算的分數；沒有訂單的顧客不符合。"),
    ),
    _column_field(
        "lifecycle.value_group",
        lambda: _("顧客價值分群"),
        _scores,
        "value_group",
        _choice_type("value_group", VALUE_GROUPS),
        CHOICE_OPS,
        "lifecycle",
    ),
    _column_field(
        "lifecycle.activity",
        lambda: _("活躍狀態"),
        _scores,
        "activity",
        _choice_type("activity", ACTIVITY),
        CHOICE_OPS,
        "lifecycle",
    ),
    _column_field(
        "lifecycle.channel_mix",
        lambda: _("購買通路組合"),
        _scores,
        "channel_mix",
        _choice_type("channel_mix", CHANNEL_MIX),
        CHOICE_OPS,
        "lifecycle",
    ),
    _column_field(
        "lifecycle.top20",
        lambda: _("近 12 個月消費前 20%"),
        _scores,
        "top20",
        values.BOOL,
        BOOL_OPS,
        "lifecycle",
    ),
    _column_field(
        "predicted.p_alive",
        lambda: _("仍是活躍顧客的機率"),
        _predictions,
        "p_alive",
        ValueType("probability", values.number(0, 1), values.show_plain),
        NUMERIC_OPS,
        "predicted",
        lambda: _("0 到 1 之間。"),
    ),
    _column_field(
        "predicted.expected_orders_90d",
        lambda: _("預測未來 90 天訂單數"),
        _predictions,
        "expected_orders_90d",
        ValueType("number", values.number(0, 1_000_000), values.show_plain),
        NUMERIC_OPS,
        "predicted",
    ),
    _column_field(
        "predicted.expected_spend_365d",
        lambda: _("預測未來一年消費"),
        _predictions,
        "expected_spend_365d",
        values.MONEY,
        NUMERIC_OPS,
        "predicted",
        lambda: _("以元為單位。"),
    ),
    FieldSpec(
        name="segment",
        group="segment",
        label=lambda: _("分眾成員"),
        description=lambda: _("另一個分眾目前的成員。"),
        value=SEGMENT,
        ops=SET_OPS,
        list_value=False,
        test=lambda ctx, cond: ~Q(_membership(cond)) if cond.op == "not_in" else Q(_membership(cond)),
        measure=lambda ctx, cond: _membership(cond),
        fact=_segment_fact,
        shows_condition=False,
    ),
)
