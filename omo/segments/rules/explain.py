"""Why a customer is or is not in a rule's membership: every condition with the customer's actual
value, in one query, and a sentence in the active language.

    符合：過去 90 天在線上下單 3 次（條件：至少 2 次）；不符合：沒有「VIP」標籤
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import BooleanField, Case, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from omo.core.errors import NotFound
from omo.customers.models import Customer
from omo.segments.rules.spec import Condition, Ctx, condition_text
from omo.segments.rules.tree import Group, Negation, Node, Rule, parse

if TYPE_CHECKING:
    from omo.core.models import Brand


@dataclass(frozen=True)
class Part:
    """One condition for one customer. `met`: the condition holds; `favours`: it speaks for
    membership (met, or not met where it sits under a NOT); `actual`: the customer's value."""

    path: str
    field: str
    op: str
    met: bool
    favours: bool
    actual: Any
    text: str


@dataclass(frozen=True)
class Explanation:
    member: bool
    sentence: str
    parts: list[Part] = field(default_factory=list)


def _negated_leaves(node: Node, negated: bool = False) -> list[tuple[Condition, bool]]:
    if isinstance(node, Group):
        return [leaf for child in node.children for leaf in _negated_leaves(child, negated)]
    if isinstance(node, Negation):
        return _negated_leaves(node.child, not negated)
    return [(node, negated)]


def _evaluate(node: Node, truth: dict[str, bool]) -> bool:
    if isinstance(node, Group):
        results = [_evaluate(child, truth) for child in node.children]
        return all(results) if node.kind == "all" else any(results)
    if isinstance(node, Negation):
        return not _evaluate(node.child, truth)
    return truth[node.path]


def _plain(actual: Any) -> Any:
    if isinstance(actual, dt.datetime | dt.date):
        return actual.isoformat()
    return actual


def explain(
    brand: Brand, rule: Rule | Any, customer: Customer, *, now: dt.datetime | None = None
) -> Explanation:
    if not isinstance(rule, Rule):
        rule = parse(brand, rule)
    if customer.brand_id != brand.pk:
        raise NotFound(_("找不到這位顧客。"))
    ctx = Ctx(brand=brand, now=now or timezone.now())
    leaves = _negated_leaves(rule.root)
    annotations: dict[str, Any] = {}
    for index, (cond, _negated) in enumerate(leaves):
        annotations[f"measure_{index}"] = cond.spec.measure(ctx, cond)
        if cond.spec.judge is not None:
            continue
        annotations[f"test_{index}"] = Case(
            When(cond.spec.test(ctx, cond), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    row = Customer.objects.filter(pk=customer.pk).annotate(**annotations).values(*annotations).first() or {}
    truth: dict[str, bool] = {}
    parts: list[Part] = []
    for index, (cond, negated) in enumerate(leaves):
        actual = row.get(f"measure_{index}")
        if cond.spec.judge is not None:
            met = cond.spec.judge(cond, actual)
        else:
            met = bool(row.get(f"test_{index}"))
        truth[cond.path] = met
        text = cond.spec.fact(cond, actual)
        if cond.spec.shows_condition:
            if negated:
                text += _("（排除條件：{condition}）").format(condition=condition_text(cond))
            else:
                text += _("（條件：{condition}）").format(condition=condition_text(cond))
        parts.append(
            Part(
                path=cond.path,
                field=cond.spec.name,
                op=cond.op,
                met=met,
                favours=met != negated,
                actual=_plain(actual),
                text=text,
            )
        )
    member = _evaluate(rule.root, truth)
    status = ""
    if customer.merged_into_id is not None:
        member = False
        status = _("顧客已合併至另一位顧客，不列入分眾。")
    elif customer.erased_at is not None:
        member = False
        status = _("顧客個資已刪除，不列入分眾。")
    separator = _("，")
    favouring = [part.text for part in parts if part.favours]
    against = [part.text for part in parts if not part.favours]
    sentences = []
    if favouring:
        sentences.append(_("符合：{parts}").format(parts=separator.join(favouring)))
    if against:
        sentences.append(_("不符合：{parts}").format(parts=separator.join(against)))
    return Explanation(member=member, sentence=status + _("；").join(sentences), parts=parts)
