"""Fields of the customer record itself: tags."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from omo.segments.rules import values
from omo.segments.rules.spec import TAG_OPS, Condition, Ctx, FieldSpec, register
from omo.segments.rules.sql import JsonListHas


def _tag_test(ctx: Ctx, cond: Condition) -> Q:
    has = Q(JsonListHas("tags", cond.value))
    return ~has if cond.op == "has_not" else has


def _tag_fact(cond: Condition, actual: Any) -> str:
    if actual:
        return _("有{tag}標籤").format(tag=values.TEXT.show(cond.value))
    return _("沒有{tag}標籤").format(tag=values.TEXT.show(cond.value))


register(
    FieldSpec(
        name="tag",
        group="profile",
        label=lambda: _("標籤"),
        description=lambda: _("完全相同的標籤才算（大小寫有別）。"),
        value=values.TEXT,
        ops=TAG_OPS,
        test=_tag_test,
        measure=lambda ctx, cond: JsonListHas("tags", cond.value),
        fact=_tag_fact,
        shows_condition=False,
    ),
)
