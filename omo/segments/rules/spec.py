"""What a condition is made of: the field specs, the checked condition, and the compile context.

A field spec knows its operators, the type of its value, its parameters, and three things about a
customer: `test` (a boolean SQL expression over `Customer`, never NULL, so NOT is the exact
complement), `measure` (the customer's actual value, for the explanation) and how to say both.
The field modules (`fields_*.py`) register their specs in `FIELDS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.db.models.expressions import BaseExpression
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from omo.core.models import Brand

NUMERIC_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
CHOICE_OPS = ("eq", "ne", "in", "not_in")
SET_OPS = ("in", "not_in")
BOOL_OPS = ("eq",)
TAG_OPS = ("has", "has_not")
LIST_OPS = frozenset({"in", "not_in"})
MAX_LIST = 100


@dataclass(frozen=True)
class Ctx:
    """What a compile needs besides the tree: the brand and the moment 'now'."""

    brand: Brand
    now: dt.datetime

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.brand.time_zone)

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str


@dataclass(frozen=True)
class ValueType:
    """The type of a condition's value (one item; lists and ranges are built from items).

    `check(path, raw, brand)` returns the normalised item or raises RuleError; `show(item)` says it
    to a person; `choices(brand)` lists the allowed items for the builder (None: free input)."""

    kind: str  # count, money, days, number, score, bool, choice, text, store, clerk, ...
    check: Callable[[str, Any, Brand], Any]
    show: Callable[[Any], str]
    choices: Callable[[Brand], list[Choice]] | None = None
    # Items of a list that the brand must own are checked together (one query per list).
    check_many: Callable[[list[tuple[str, Any]], Brand], list[Any]] | None = None


@dataclass(frozen=True)
class Param:
    """A field-specific parameter beside field/op/value (last_days, channel, store, event, ...)."""

    name: str
    label: Promise | str
    kind: str
    check: Callable[[str, Any, Brand], Any]
    required: bool = False
    choices: Callable[[Brand], list[Choice]] | None = None
    # Parameters that must not be given together with this one.
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """One checked leaf of the tree. `value` is normalised (minor units, ids checked); `raw` as given."""

    path: str
    spec: FieldSpec
    op: str
    value: Any
    params: Mapping[str, Any]
    raw: Mapping[str, Any]

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    group: str
    label: Callable[[], str]
    value: ValueType
    ops: tuple[str, ...]
    test: Callable[[Ctx, Condition], Q]
    measure: Callable[[Ctx, Condition], BaseExpression]
    # The fact about the customer, e.g. "過去 90 天下單 3 次"; `actual` is what `measure` gave.
    fact: Callable[[Condition, Any], str]
    params: tuple[Param, ...] = ()
    # Whether in / not_in take a list of items (False: one item, as `segment` takes one segment).
    list_value: bool = True
    # Whether the condition text "（條件：…）" follows the fact (not for has / has not kinds of facts).
    shows_condition: bool = True
    # For sums and counts: whether the customer's actual value (from `measure`, None as 0) meets the
    # condition, so an explanation need not run the brand-wide `test` for one customer.
    judge: Callable[[Condition, Any], bool] | None = None
    # Extra checks across value and parameters, after each was checked alone.
    validate: Callable[[Condition, Brand], None] | None = None
    description: Callable[[], str] = field(default=lambda: "")


FIELDS: dict[str, FieldSpec] = {}


def register(*specs: FieldSpec) -> None:
    for spec in specs:
        if spec.name in FIELDS:
            raise RuntimeError(f"segment rule field {spec.name} is defined twice")
        FIELDS[spec.name] = spec


# --- operators in words ----------------------------------------------------------------------


def op_label(op: str) -> str:
    labels = {
        "eq": _("等於"),
        "ne": _("不等於"),
        "gt": _("大於"),
        "gte": _("至少"),
        "lt": _("少於"),
        "lte": _("最多"),
        "between": _("介於"),
        "in": _("是其中之一"),
        "not_in": _("不是其中任何一個"),
        "has": pgettext("segment rule", "有"),
        "has_not": pgettext("segment rule", "沒有"),
    }
    return labels[op]


def show_list(items: Sequence[Any], show: Callable[[Any], str]) -> str:
    return _("、").join(show(item) for item in items)


def condition_text(cond: Condition) -> str:
    """The condition in words: "至少 2 次", "介於 NT$1,000 與 NT$5,000", "是「冠軍顧客」或「忠誠顧客」"."""
    show = cond.spec.value.show
    if cond.op == "between":
        low, high = cond.value
        return _("介於 {low} 與 {high}").format(low=show(low), high=show(high))
    if cond.op == "in":
        return _("是 {items} 其中之一").format(items=show_list(cond.value, show))
    if cond.op == "not_in":
        return _("不是 {items}").format(items=show_list(cond.value, show))
    return f"{op_label(cond.op)} {show(cond.value)}"
