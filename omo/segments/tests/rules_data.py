"""Builders for the rule engine's tests: customers with orders, events, scores at a pinned moment."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from omo.commerce.models import Order, OrderLine
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.segments.models import CustomerScore

NOW = dt.datetime(2026, 6, 15, 4, 0, tzinfo=dt.UTC)  # 12:00 in Taipei
_numbers = itertools.count(1)


def customer(brand: Brand, name: str, **kw: Any) -> Customer:
    return Customer.objects.create(brand=brand, name=name, **kw)


def order(
    brand: Brand,
    who: Customer,
    total: int,
    *,
    days_ago: float = 1,
    channel: str = "web_shop",
    status: str = "paid",
    refunded: int = 0,
    store: Any = None,
    lines: list[tuple[Any, int]] | None = None,
) -> Order:
    """`total` and `refunded` in whole dollars; `lines` are (product, dollars) pairs."""
    placed_at = NOW - dt.timedelta(days=days_ago)
    made = Order.objects.create(
        brand=brand,
        source="test",
        external_id=f"T{next(_numbers)}",
        sales_channel=channel,
        store=store,
        customer=who,
        total=total * 100,
        refunded_total=refunded * 100,
        status=status,
        placed_at=placed_at,
    )
    for product, dollars in lines or []:
        OrderLine.objects.create(
            brand=brand,
            order=made,
            product=product,
            title=product.title,
            quantity=1,
            unit_price=dollars * 100,
            total=dollars * 100,
            placed_at=placed_at,
        )
    return made


def check(brand: Brand, tree: Any, expected: set[Customer]) -> None:
    """The members are `expected`, and explain() agrees customer by customer."""
    from omo.segments.rules import explain, members, parse

    rule = parse(brand, tree)
    found = set(members(brand, rule, now=NOW).values_list("pk", flat=True))
    assert found == {who.pk for who in expected}, tree
    for who in Customer.objects.filter(brand=brand):
        assert explain(brand, rule, who, now=NOW).member is (who.pk in found), (tree, who.name)


def score(who: Customer, **kw: Any) -> CustomerScore:
    return CustomerScore.objects.create(brand_id=who.brand_id, customer=who, computed_at=NOW, **kw)
