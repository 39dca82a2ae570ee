"""The segment rule engine: a JSON rule tree checked, compiled to one SQL query, and explained.

    rule = parse(brand, {"all": [{"field": "tag", "op": "has", "value": "VIP"},
                                 {"field": "orders.count", "op": "gte", "value": 2, "last_days": 90}]})
    members(brand, rule)             # QuerySet[Customer], one query
    explain(brand, rule, customer)   # .member, .sentence, .parts
    field_catalogue(brand)           # the fields for the console's builder

The tree format and every field are in docs/segment-rules.md.
"""

from omo.segments.rules import (  # noqa: F401  (each registers its fields)
    fields_activity,
    fields_customer,
    fields_events,
    fields_orders,
    fields_scores,
)
from omo.segments.rules.catalogue import field_catalogue
from omo.segments.rules.compiler import members
from omo.segments.rules.errors import RuleError
from omo.segments.rules.explain import Explanation, Part, explain
from omo.segments.rules.tree import Rule, parse

__all__ = ["Explanation", "Part", "Rule", "RuleError", "explain", "field_catalogue", "members", "parse"]
