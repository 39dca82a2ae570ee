"""A checked rule as one SQL query over the brand's customers (subqueries, no Python loops)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from omo.customers.models import Customer
from omo.segments.rules.spec import Ctx
from omo.segments.rules.tree import Group, Negation, Node, Rule, parse

if TYPE_CHECKING:
    from omo.core.models import Brand


def compile_node(ctx: Ctx, node: Node) -> Q:
    if isinstance(node, Group):
        parts = [compile_node(ctx, child) for child in node.children]
        q = parts[0]
        for part in parts[1:]:
            q = (q & part) if node.kind == "all" else (q | part)
        return q
    if isinstance(node, Negation):
        return ~compile_node(ctx, node.child)
    return node.spec.test(ctx, node)


def eligible(brand: Brand) -> QuerySet[Customer]:
    """Customers that can be members at all: this brand's, not merged into another, not erased."""
    return Customer.objects.filter(brand=brand, merged_into__isnull=True, erased_at__isnull=True)


def members(brand: Brand, rule: Rule | Any, *, now: dt.datetime | None = None) -> QuerySet[Customer]:
    """The brand's customers that match the rule, as one query. `rule` is a parsed Rule (a raw tree
    is parsed first); `now` pins "the last N days" (default: the current time)."""
    if not isinstance(rule, Rule):
        rule = parse(brand, rule)
    ctx = Ctx(brand=brand, now=now or timezone.now())
    return eligible(brand).filter(compile_node(ctx, rule.root))
