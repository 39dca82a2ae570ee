"""A hand-built brand for the score tests: ten buyers whose quintiles are worked out by hand in
docs/rfm.md's example, two prospects, a merged and an erased customer.

Cut points among the ten buyers (nearest rank: the 2nd, 4th, 6th and 8th smallest):
recency days 0 10 20 30 40 50 60 70 80 100 → R cuts [10, 30, 50, 70];
orders 5 5 1 1 1 2 3 4 6 1 → sorted 1 1 1 1 2 3 4 5 5 6 → F cuts [1, 1, 3, 5];
spend 10000 9000 100 100 500 2000 3000 4000 20000 100 → M cuts [100, 500, 3000, 9000].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from omo.analytics.tests.builders import make_customer, make_order
from omo.commerce.models import Order
from omo.core.models import Brand
from omo.customers.models import Customer

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=TAIPEI)

# name: (recency days, [(sales channel, total) per order])
BUYERS: dict[str, tuple[int, list[tuple[str, int]]]] = {
    "b0": (0, [("pos", 10000), ("web_shop", 0), ("pos", 0), ("pos", 0), ("pos", 0)]),
    "b1": (10, [("web_shop", 9000)] + [("web_shop", 0)] * 4),
    "b2": (20, [("pos", 100)]),
    "b3": (30, [("pos", 100)]),
    "b4": (40, [("pos", 500)]),
    "b5": (50, [("pos", 2000), ("pos", 0)]),
    "b6": (60, [("pos", 3000), ("pos", 0), ("pos", 0)]),
    "b7": (70, [("pos", 4000)] + [("pos", 0)] * 3),
    "b8": (80, [("marketplace", 20000)] + [("external_web", 0)] * 5),
    "b9": (100, [("pos", 100)]),
}

EXPECTED: dict[str, tuple[int, int, int, str]] = {  # r, f, m, named segment
    "b0": (5, 4, 5, "champions"),
    "b1": (5, 4, 4, "champions"),
    "b2": (4, 1, 1, "promising"),
    "b3": (4, 1, 1, "promising"),
    "b4": (3, 1, 2, "about_to_sleep"),
    "b5": (3, 3, 3, "need_attention"),
    "b6": (2, 3, 3, "at_risk"),
    "b7": (2, 4, 4, "at_risk"),
    "b8": (1, 5, 5, "cant_lose"),
    "b9": (1, 1, 1, "hibernating"),
}


@dataclass
class Dataset:
    brand: Brand
    customers: dict[str, Customer] = field(default_factory=dict)


def build(brand: Brand) -> Dataset:
    data = Dataset(brand)
    for name, (recency, orders) in BUYERS.items():
        customer = make_customer(brand, name, phone="")
        data.customers[name] = customer
        placed = NOW - dt.timedelta(days=recency, hours=1)
        for channel, total in orders:  # all on one day: no repurchase gaps, the default interval
            make_order(brand, placed_at=placed, total=total, sales_channel=channel, customer=customer)
    data.customers["p1"] = make_customer(brand, "p1", phone="")  # never ordered
    p2 = data.customers["p2"] = make_customer(brand, "p2", phone="")  # only a cancelled order
    make_order(
        brand, placed_at=NOW - dt.timedelta(days=3), total=5000, customer=p2, status=Order.Status.CANCELLED
    )
    survivor = data.customers["b9"]
    merged = make_customer(brand, "merged", phone="", merged_into=survivor)
    make_order(brand, placed_at=NOW - dt.timedelta(days=1), total=999, customer=merged)
    data.customers["merged"] = merged
    data.customers["erased"] = make_customer(brand, "erased", phone="", erased_at=NOW - dt.timedelta(days=1))
    # an order in the future (after `now`) does not count
    make_order(brand, placed_at=NOW + dt.timedelta(days=2), total=7777, customer=data.customers["p1"])
    return data
