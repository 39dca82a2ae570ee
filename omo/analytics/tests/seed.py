"""A seeded month of sales with figures worked out by hand (see `seeded_sales`).

Imported by the conftest of the analytics and console tests, which both use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from omo.analytics.tests.builders import make_customer, make_order
from omo.testing import factories as f

TAIPEI = ZoneInfo("Asia/Taipei")


def local(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TAIPEI)


@dataclass
class Seeded:
    today: dt.date
    products: dict
    customers: dict
    orders: dict


@pytest.fixture
def seeded_sales(brand, store, other_store, other_brand) -> Seeded:
    """Six counted orders in the last 30 days, plus a cancelled one, an old one and another brand's.

    Worked out by hand (amounts in minor units, TWD: 100 = NT$1):

    | # | customer | channel     | store       | total   | refunded | net     | lines (product qty total refunded) |
    |---|----------|-------------|-------------|---------|----------|---------|------------------------------------|
    | 1 | A        | pos         | store       | 100000  | 0        | 100000  | P1 2 100000 0                      |
    | 2 | A        | web_shop    | —           | 50000   | 25000    | 25000   | P2 2 50000 1                       |
    | 3 | B        | web_shop    | —           | 30000   | 0        | 30000   | P3 3 30000 0                       |
    | 4 | C        | pos         | other_store | 80000   | 0        | 80000   | P1 1 80000 0                       |
    | 5 | guest    | pos         | store       | 20000   | 0        | 20000   | P3 1 20000 0                       |
    | 6 | B        | marketplace | —           | 40000   | 40000    | 0       | P4 1 40000 1                       |
    | x | A        | pos         | store       | cancelled: excluded (P2 9 999900)                                |
    | y | B        | pos         | store       | 31 days ago: excluded (P2 7 700000)                              |

    Net 255000, 6 orders, AOV 42500, 3 customers ordered (A, B, C), OMO customers 1 (A), new
    customers 3 (A, B, C; D joined 40 days ago). Stores: store 120000 (2), no store 55000 (3),
    other_store 80000 (1). Products: P1 180000 (3 units), P3 50000 (4), P2 25000 (1), P4 0 (0).
    """
    today = timezone.localtime(timezone.now(), TAIPEI).date()
    category = f.make_category(brand, "保養")
    products = {
        "P1": f.make_product(brand, "玫瑰精華液", category=category, variants=[("P1-30", "30ml", 50000)]),
        "P2": f.make_product(brand, "薰衣草乳液", variants=[("P2-50", "50ml", 25000)]),
        "P3": f.make_product(brand, "茶樹洗面乳", variants=[("P3-100", "", 10000)]),
        "P4": f.make_product(brand, "檜木香氛", variants=[("P4-1", "", 40000)]),
    }
    customers = {
        "A": make_customer(brand, "陳怡君", phone="+886912000001", home_store=store, member_number="M0001"),
        "B": make_customer(brand, "林志明", phone="+886912000002", email="lin@example.com"),
        "C": make_customer(brand, "黃美玲", phone="+886912000003", home_store=other_store),
        "D": make_customer(brand, "張舊客", created_at=local(today - dt.timedelta(days=40))),
    }
    A, B, C = customers["A"], customers["B"], customers["C"]
    P1, P2, P3, P4 = (products[key] for key in ("P1", "P2", "P3", "P4"))
    day = lambda offset: today - dt.timedelta(days=offset)  # noqa: E731
    orders = {
        1: make_order(
            brand, placed_at=local(day(1)), total=100000, customer=A, store=store, lines=[(P1, 2, 100000, 0)]
        ),
        2: make_order(
            brand,
            placed_at=local(day(3)),
            total=50000,
            refunded_total=25000,
            status="partially_refunded",
            sales_channel="web_shop",
            customer=A,
            lines=[(P2, 2, 50000, 1)],
        ),
        3: make_order(
            brand,
            placed_at=local(day(3)),
            total=30000,
            sales_channel="web_shop",
            customer=B,
            lines=[(P3, 3, 30000, 0)],
        ),
        4: make_order(
            brand,
            placed_at=local(day(29), 0, 30),  # first day of the window, half past midnight local time
            total=80000,
            status="fulfilled",
            customer=C,
            store=other_store,
            lines=[(P1, 1, 80000, 0)],
        ),
        5: make_order(
            brand,
            placed_at=local(day(0), 0, 5),
            total=20000,
            status="placed",
            store=store,
            lines=[(P3, 1, 20000, 0)],
        ),
        6: make_order(
            brand,
            placed_at=local(day(10)),
            total=40000,
            refunded_total=40000,
            status="refunded",
            sales_channel="marketplace",
            customer=B,
            lines=[(P4, 1, 40000, 1)],
        ),
        "cancelled": make_order(
            brand,
            placed_at=local(day(2)),
            total=999900,
            status="cancelled",
            customer=A,
            store=store,
            lines=[(P2, 9, 999900, 0)],
        ),
        "old": make_order(
            brand,
            placed_at=local(day(30), 23, 59),
            total=700000,
            customer=B,
            store=store,
            lines=[(P2, 7, 700000, 0)],
        ),
    }
    # Another brand's sale on the same days must never show up.
    other_product = f.make_product(other_brand, "別家商品", variants=[("X-1", "", 500000)])
    make_order(other_brand, placed_at=local(day(1)), total=500000, lines=[(other_product, 1, 500000, 0)])
    return Seeded(today=today, products=products, customers=customers, orders=orders)
