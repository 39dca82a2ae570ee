"""Random trees of all / any / not over tags and order counts: the SQL members are exactly the
customers a plain Python evaluation of the same tree picks, and explain() agrees."""

from __future__ import annotations

import operator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from omo.segments.rules import explain, members, parse
from omo.segments.tests.rules_data import NOW, customer, order

pytestmark = pytest.mark.django_db

TAGS = ("VIP", "VIP2", "新客")
OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

leaf = st.one_of(
    st.builds(
        lambda tag, op: {"field": "tag", "op": op, "value": tag},
        st.sampled_from(TAGS),
        st.sampled_from(["has", "has_not"]),
    ),
    st.builds(
        lambda op, value: {"field": "orders.count", "op": op, "value": value},
        st.sampled_from(sorted(OPS)),
        st.integers(0, 3),
    ),
)
trees = st.recursive(
    leaf,
    lambda children: st.one_of(
        st.builds(lambda nodes: {"all": nodes}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda nodes: {"any": nodes}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda node: {"not": node}, children),
    ),
    max_leaves=6,
)


def depth(tree: dict[str, Any]) -> int:
    if "all" in tree or "any" in tree:
        return 1 + max(depth(node) for node in tree.get("all", tree.get("any")))
    if "not" in tree:
        return 1 + depth(tree["not"])
    return 0


def holds(tree: dict[str, Any], tags: set[str], orders: int) -> bool:
    if "all" in tree:
        return all(holds(node, tags, orders) for node in tree["all"])
    if "any" in tree:
        return any(holds(node, tags, orders) for node in tree["any"])
    if "not" in tree:
        return not holds(tree["not"], tags, orders)
    if tree["field"] == "tag":
        return (tree["value"] in tags) == (tree["op"] == "has")
    return OPS[tree["op"]](orders, tree["value"])


def test_random_trees_match_a_python_evaluation(brand):
    people = []
    for index, (tags, orders) in enumerate(
        [((), 0), (("VIP",), 1), (("VIP2",), 2), (("VIP", "新客"), 3), (("新客",), 0), (("VIP2", "VIP"), 2)]
    ):
        who = customer(brand, f"c{index}", tags=list(tags))
        for _ in range(orders):
            order(brand, who, 100)
        people.append((who, set(tags), orders))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(trees)
    def check(tree: dict[str, Any]) -> None:
        assume(depth(tree) <= 6)
        rule = parse(brand, tree)
        found = set(members(brand, rule, now=NOW).values_list("pk", flat=True))
        expected = {who.pk for who, tags, orders in people if holds(tree, tags, orders)}
        assert found == expected
        who, _tags, _orders = people[3]
        assert explain(brand, rule, who, now=NOW).member is (who.pk in expected)

    check()
