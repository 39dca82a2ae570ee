"""Order histories for the CLV tests, written straight to the tables (the import path is tested
with CDNOW): customers who buy on given local days, or drawn from the BG/NBD model itself."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import numpy as np

from omo.commerce.models import Order
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.segments.models import ClvFit, CustomerPrediction

_numbers = itertools.count(1)


def add_orders(brand: Brand, customer: Customer | None, *moments: tuple[dt.datetime, int], **fields) -> None:
    """Orders of the customer at these moments with these totals (minor units)."""
    Order.objects.bulk_create(
        Order(
            brand=brand,
            customer=customer,
            source="test",
            external_id=f"o{next(_numbers)}",
            sales_channel="other",
            placed_at=at,
            total=total,
            subtotal=total,
            status=fields.get("status", Order.Status.PAID),
            refunded_total=fields.get("refunded_total", 0),
        )
        for at, total in moments
    )


def customers(brand: Brand, count: int) -> list[Customer]:
    return Customer.objects.bulk_create(Customer(brand=brand, name=f"顧客 {i}") for i in range(count))


def simulated_brand(brand: Brand, *, count: int, first: dt.date, last: dt.date, seed: int = 3) -> None:
    """`count` customers whose first purchase falls between `first` and `last`, buying after it as
    BG/NBD says (r = 0.25, α = 30 days, a = 0.8, b = 2.5), each purchase NT$500-1,500, up to `last`."""
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(brand.time_zone)
    span = (last - first).days
    moments = []
    people = customers(brand, count)
    for customer in people:
        start = int(rng.integers(0, span // 2))
        rate, dropout = rng.gamma(0.25, 1 / 30), rng.beta(0.8, 2.5)
        days, t = [start], float(start)
        while True:
            t += rng.exponential(1 / rate)
            if t > span:
                break
            days.append(int(t))
            if rng.random() < dropout:
                break
        mean = rng.uniform(500, 1500)
        for day in days:
            at = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(15), tzinfo=zone)
            moments.append((customer, at, int(rng.gamma(20, mean / 20)) * 100))
    for customer, group in itertools.groupby(moments, key=lambda row: row[0]):
        add_orders(brand, customer, *((at, total) for _c, at, total in group))


def predicted(brand, customer, *, at, p_alive: float = 0.82, expected_orders_90d: float = 1.4):
    """A fit with enough history and this customer's prediction from it (NT$3,200 in a year)."""
    fit = ClvFit.objects.create(
        brand=brand,
        fitted_at=at,
        calibration_end=at.date(),
        customers=500,
        repeat_customers=200,
        enough_history=True,
    )
    return CustomerPrediction.objects.create(
        brand=brand,
        customer=customer,
        fit=fit,
        p_alive=p_alive,
        expected_orders_30d=0.5,
        expected_orders_90d=expected_orders_90d,
        expected_orders_365d=4.1,
        expected_spend_365d=3_200_00,
        fitted_at=at,
    )
