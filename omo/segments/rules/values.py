"""Checks of values and parameters: each returns the normalised item or raises RuleError(path)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from omo.core.money import format_money, to_minor
from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import Choice, ValueType

if TYPE_CHECKING:
    from omo.core.models import Brand

MAX_DAYS = 3650
MAX_TEXT = 120


def _is_int(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def integer(low: int, high: int) -> Callable[[str, Any, Brand], int]:
    def check(path: str, raw: Any, brand: Brand) -> int:
        if not _is_int(raw):
            raise RuleError(path, _("必須是整數。"))
        if not low <= raw <= high:
            raise RuleError(path, _("必須介於 {low} 與 {high} 之間。").format(low=low, high=high))
        return int(raw)

    return check


def number(low: float, high: float) -> Callable[[str, Any, Brand], float]:
    def check(path: str, raw: Any, brand: Brand) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise RuleError(path, _("必須是數字。"))
        if not low <= raw <= high:
            raise RuleError(path, _("必須介於 {low} 與 {high} 之間。").format(low=low, high=high))
        return float(raw)

    return check


def money(path: str, raw: Any, brand: Brand) -> int:
    """Whole dollars as people write them (NT$1,280 is 1280) -> minor units."""
    if not _is_int(raw):
        raise RuleError(path, _("必須是整數金額（元）。"))
    if not 0 <= raw <= 10**12:
        raise RuleError(path, _("金額必須介於 0 與 1,000,000,000,000 元之間。"))
    return to_minor(raw, brand.currency)


def boolean(path: str, raw: Any, brand: Brand) -> bool:
    if not isinstance(raw, bool):
        raise RuleError(path, _("必須是 true 或 false。"))
    return raw


def text(path: str, raw: Any, brand: Brand) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise RuleError(path, _("必須是非空白的文字。"))
    if len(raw) > MAX_TEXT:
        raise RuleError(path, _("最多 {n} 個字。").format(n=MAX_TEXT))
    return raw


def one_of(choices: Callable[[Brand], list[Choice]]) -> Callable[[str, Any, Brand], Any]:
    def check(path: str, raw: Any, brand: Brand) -> Any:
        allowed = [choice.value for choice in choices(brand)]
        if isinstance(raw, bool) or raw not in allowed:
            raise RuleError(
                path,
                _("不認得的值 {value}；可用的值：{allowed}。").format(
                    value=_quoted(raw), allowed=", ".join(str(value) for value in allowed)
                ),
            )
        return raw

    return check


def date(path: str, raw: Any, brand: Brand) -> dt.date:
    if not isinstance(raw, str):
        raise RuleError(path, _("必須是 YYYY-MM-DD 格式的日期。"))
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise RuleError(path, _("必須是 YYYY-MM-DD 格式的日期。")) from None


def _quoted(raw: Any) -> str:
    return f"“{raw}”" if isinstance(raw, str) else repr(raw)


def owned(
    model: type[Model], what: Callable[[], str], **filters: Any
) -> Callable[[list[tuple[str, Any]], Brand], list[int]]:
    """Ids of rows the brand owns (stores, clerks, products, categories, tiers, segments), checked
    in one query; each item comes with its path in the tree."""

    def check(items: list[tuple[str, Any]], brand: Brand) -> list[int]:
        for path, item in items:
            if not _is_int(item) or item <= 0:
                raise RuleError(path, _("必須是{what}的編號（正整數）。").format(what=what()))
        wanted = [item for _path, item in items]
        found = set(
            model._default_manager.filter(brand=brand, pk__in=wanted, **filters).values_list("pk", flat=True)
        )
        for path, item in items:
            if item not in found:
                raise RuleError(path, _("此品牌沒有編號 {id} 的{what}。").format(id=item, what=what()))
        return [int(item) for item in wanted]

    return check


def ids_value(
    kind: str,
    model: type[Model],
    what: Callable[[], str],
    show: Callable[[Any], str],
    choices: Callable[[Brand], list[Choice]] | None = None,
    **filters: Any,
) -> ValueType:
    check_many = owned(model, what, **filters)

    def check(path: str, raw: Any, brand: Brand) -> int:
        return check_many([(path, raw)], brand)[0]

    return ValueType(kind=kind, check=check, show=show, choices=choices, check_many=check_many)


def quote(text: Any) -> str:
    """A name or value inside a sentence: 「VIP」 in Chinese, “VIP” in English."""
    return _("「{text}」").format(text=text)


def show_plain(item: Any) -> str:
    if isinstance(item, float):
        return f"{item:g}"
    return str(item)


def show_money(item: Any) -> str:
    return format_money(int(item))


def show_bool(item: Any) -> str:
    return pgettext("segment rule", "是") if item else pgettext("segment rule", "否")


COUNT = ValueType("count", integer(0, 10**9), lambda item: _("{n} 次").format(n=item))
MONEY = ValueType("money", money, show_money)
DAYS = ValueType("days", integer(0, 100_000), lambda item: _("{n} 天").format(n=item))
BOOL = ValueType("bool", boolean, show_bool)
TEXT = ValueType("text", text, lambda item: quote(item))
