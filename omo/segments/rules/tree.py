"""Parsing a rule tree: shape, fields, operators, values, parameters, limits and segment cycles.

    node      := {"all": [node, ...]} | {"any": [node, ...]} | {"not": node} | condition
    condition := {"field": "<field>", "op": "<op>", "value": <value>, ...parameters}

Every refusal is a RuleError naming the path of the bad part, e.g. `all[1].any[0].value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from omo.segments.rules.errors import RuleError
from omo.segments.rules.spec import FIELDS, LIST_OPS, MAX_LIST, Condition, FieldSpec

if TYPE_CHECKING:
    from omo.core.models import Brand

MAX_DEPTH = 6  # groups (all / any / not) inside each other
MAX_CONDITIONS = 40
MAX_CHILDREN = 40
GROUPS = ("all", "any", "not")


@dataclass(frozen=True)
class Group:
    kind: str  # "all" or "any"
    path: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    path: str
    child: Node


Node = Group | Negation | Condition


@dataclass(frozen=True)
class Rule:
    """A checked rule tree: `tree` is the JSON as given (what a segment stores), `root` the nodes."""

    tree: Mapping[str, Any]
    root: Node

    def conditions(self) -> Iterator[Condition]:
        yield from _leaves(self.root)

    @property
    def segment_ids(self) -> frozenset[int]:
        return frozenset(cond.value for cond in self.conditions() if cond.spec.name == "segment")


def _leaves(node: Node) -> Iterator[Condition]:
    if isinstance(node, Group):
        for child in node.children:
            yield from _leaves(child)
    elif isinstance(node, Negation):
        yield from _leaves(node.child)
    else:
        yield node


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def parse(brand: Brand, tree: Any, *, segment_id: int | None = None) -> Rule:
    """Check `tree` for `brand`; `segment_id` is the segment being edited (no cycles through it)."""
    parser = _Parser(brand)
    root = parser.node(tree, "", 0)
    if parser.conditions > MAX_CONDITIONS:
        raise RuleError("", _("條件太多：最多 {n} 個。").format(n=MAX_CONDITIONS))
    rule = Rule(tree=tree, root=root)
    _check_cycles(brand, rule, segment_id)
    return rule


class _Parser:
    def __init__(self, brand: Brand) -> None:
        self.brand = brand
        self.conditions = 0

    def node(self, raw: Any, path: str, depth: int) -> Node:
        if not isinstance(raw, dict):
            raise RuleError(path, _("必須是一個條件（field、op、value）或 all、any、not 群組。"))
        if "field" in raw:
            self.conditions += 1
            return self.condition(raw, path)
        groups = [key for key in raw if key in GROUPS]
        if not groups:
            keys = ", ".join(sorted(str(key) for key in raw)) or "{}"
            raise RuleError(
                path, _("不認得的節點（{keys}）：請用 field、all、any 或 not。").format(keys=keys)
            )
        extra = [str(key) for key in raw if key != groups[0]]
        if extra:
            raise RuleError(_join(path, extra[0]), _("群組只能有一個鍵：{key}。").format(key=groups[0]))
        kind = groups[0]
        here = _join(path, kind)
        if depth >= MAX_DEPTH:
            raise RuleError(here, _("巢狀太深：群組最多 {n} 層。").format(n=MAX_DEPTH))
        if kind == "not":
            return Negation(path=here, child=self.node(raw["not"], here, depth + 1))
        children = raw[kind]
        if not isinstance(children, list) or not children:
            raise RuleError(here, _("必須是至少有一個條件的清單。"))
        if len(children) > MAX_CHILDREN:
            raise RuleError(here, _("一個群組最多 {n} 個條件。").format(n=MAX_CHILDREN))
        return Group(
            kind=kind,
            path=here,
            children=tuple(
                self.node(child, f"{here}[{index}]", depth + 1) for index, child in enumerate(children)
            ),
        )

    def condition(self, raw: dict[str, Any], path: str) -> Condition:
        name = raw["field"]
        spec = FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            raise RuleError(_join(path, "field"), _("不認得的欄位 {field}。").format(field=_shown(name)))
        op = raw.get("op")
        if op not in spec.ops:
            if "op" not in raw:
                raise RuleError(_join(path, "op"), _("缺少運算子 op。"))
            raise RuleError(
                _join(path, "op"),
                _("欄位 {field} 不支援運算子 {op}；可用：{ops}。").format(
                    field=name, op=_shown(op), ops=", ".join(spec.ops)
                ),
            )
        allowed = {"field", "op", "value", *(param.name for param in spec.params)}
        for key in raw:
            if key not in allowed:
                raise RuleError(
                    _join(path, str(key)),
                    _("欄位 {field} 沒有參數 {key}。").format(field=name, key=_shown(key)),
                )
        if "value" not in raw:
            raise RuleError(_join(path, "value"), _("缺少值 value。"))
        value = self.value(spec, op, raw["value"], _join(path, "value"))
        params: dict[str, Any] = {}
        for param in spec.params:
            here = _join(path, param.name)
            if param.name not in raw:
                if param.required:
                    raise RuleError(here, _("必須填寫。"))
                continue
            for other in param.excludes:
                if other in raw:
                    raise RuleError(here, _("{a} 和 {b} 不能同時使用。").format(a=param.name, b=other))
            params[param.name] = param.check(here, raw[param.name], self.brand)
        cond = Condition(path=path, spec=spec, op=op, value=value, params=params, raw=raw)
        if spec.validate is not None:
            spec.validate(cond, self.brand)
        return cond

    def value(self, spec: FieldSpec, op: str, raw: Any, path: str) -> Any:
        value_type = spec.value
        if op == "between":
            if not isinstance(raw, list) or len(raw) != 2:
                raise RuleError(path, _("between 的值必須是 [最小, 最大] 兩個值。"))
            low = value_type.check(f"{path}[0]", raw[0], self.brand)
            high = value_type.check(f"{path}[1]", raw[1], self.brand)
            if low > high:
                raise RuleError(path, _("最小值不能大於最大值。"))
            return (low, high)
        if op in LIST_OPS and spec.list_value:
            if not isinstance(raw, list) or not raw:
                raise RuleError(path, _("{op} 的值必須是至少一個項目的清單。").format(op=op))
            if len(raw) > MAX_LIST:
                raise RuleError(path, _("清單最多 {n} 個項目。").format(n=MAX_LIST))
            items = [(f"{path}[{index}]", item) for index, item in enumerate(raw)]
            if value_type.check_many is not None:
                return tuple(value_type.check_many(items, self.brand))
            return tuple(value_type.check(item_path, item, self.brand) for item_path, item in items)
        return value_type.check(path, raw, self.brand)


def _shown(raw: Any) -> str:
    return f"“{raw}”" if isinstance(raw, str) else repr(raw)


# --- segments that refer to segments ------------------------------------------------------------


def _refs(tree: Any) -> Iterator[int]:
    """Segment ids a stored tree refers to (stored trees were checked when saved)."""
    if isinstance(tree, dict):
        if tree.get("field") == "segment" and isinstance(tree.get("value"), int):
            yield tree["value"]
        for child in tree.values():
            if isinstance(child, dict | list):
                yield from _refs(child)
    elif isinstance(tree, list):
        for child in tree:
            yield from _refs(child)


def _check_cycles(brand: Brand, rule: Rule, segment_id: int | None) -> None:
    from omo.segments.models import Segment

    for cond in rule.conditions():
        if cond.spec.name != "segment":
            continue
        here = _join(cond.path, "value")
        if segment_id is not None and cond.value == segment_id:
            raise RuleError(here, _("分眾不能以自己為條件。"))
        # Walk the references of the referenced segment breadth-first, one query per level.
        trail: dict[int, list[int]] = {cond.value: [cond.value]}
        frontier = [cond.value]
        while frontier:
            rows = Segment.objects.filter(brand=brand, pk__in=frontier).values_list("pk", "rule")
            frontier = []
            for pk, stored in rows:
                for ref in _refs(stored):
                    chain = [*trail[pk], ref]
                    if ref == segment_id or ref in trail[pk]:
                        start = [segment_id] if segment_id is not None else []
                        names = " → ".join(f"#{item}" for item in [*start, *chain])
                        raise RuleError(here, _("分眾循環參照：{chain}。").format(chain=names))
                    if ref in trail:  # reached again by another way: not a cycle, walked already
                        continue
                    trail[ref] = chain
                    frontier.append(ref)
