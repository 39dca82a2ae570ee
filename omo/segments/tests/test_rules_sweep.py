"""Every field with every one of its operators parses, runs as one query and is explained, and
`not` of it is its exact complement (the suite runs this on SQLite and on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omo.loyalty.models import Tier
from omo.segments.models import Segment
from omo.segments.rules import explain, field_catalogue, members, parse
from omo.segments.rules.spec import FIELDS
from omo.segments.tests.rules_data import NOW, customer, order, score

pytestmark = pytest.mark.django_db

SAMPLES: dict[str, Any] = {
    "count": 1,
    "money": 100,
    "days": 3,
    "bool": True,
    "text": "VIP",
    "month": 6,
    "score": 3,
    "probability": 0.5,
    "number": 1.5,
    "points": 10,
    "rfm_cell": "555",
}
PARAMS = {"platform": "line", "event": "Product Viewed"}


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_field_and_operator(brand, store, clerk, name):
    tier = Tier.objects.create(brand=brand, name="金卡", threshold=100)
    other = Segment.objects.create(brand=brand, name="其他")
    entry = next(entry for entry in field_catalogue(brand) if entry["field"] == name)
    ids = {"store": store.pk, "clerk": clerk.pk, "tier": tier.pk, "segment": other.pk}
    if entry["type"] in ids:
        item = ids[entry["type"]]
    elif entry["choices"]:
        item = entry["choices"][0]["value"]
    else:
        item = SAMPLES[entry["type"]]
    who = customer(brand, "A", tags=["VIP"])
    nobody = customer(brand, "B")
    order(brand, who, 100)
    score(who, r=5, f=5, m=5, rfm_segment="champions")
    for op in FIELDS[name].ops:
        if op == "between":
            value: Any = [item, item]
        elif op in ("in", "not_in") and entry["list_value"]:
            value = [item]
        else:
            value = item
        tree = {"field": name, "op": op, "value": value}
        tree.update({param["name"]: PARAMS[param["name"]] for param in entry["params"] if param["required"]})
        rule = parse(brand, tree)
        with CaptureQueriesContext(connection) as queries:
            found = set(members(brand, rule, now=NOW).values_list("pk", flat=True))
        assert len(queries) == 1
        complement = set(members(brand, parse(brand, {"not": tree}), now=NOW).values_list("pk", flat=True))
        assert found | complement == {who.pk, nobody.pk}, tree
        assert not found & complement, tree
        for person in (who, nobody):
            why = explain(brand, rule, person, now=NOW)
            assert why.member is (person.pk in found), tree
            assert why.sentence
