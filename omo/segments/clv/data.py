"""Per-customer sufficient statistics for the CLV models, from the brand's counted orders.

An order counts as the sales figures count it: not cancelled, net of refunds (total − refunded).
Purchases are calendar days in the brand's time zone: several orders on one day are one purchase
(the BG/NBD paper's convention), and the first purchase is not a repeat. Per customer:

- x: repeat purchases (days with an order after the first);
- t_x: time from the first purchase to the last; T: from the first purchase to the calibration end;
- monetary: the mean net spend of the repeat purchases, in major units (0 without repeats).

The database does the grouping (orders → customer days → customers) one block of customer ids at a
time, so only one row per customer ever reaches Python and memory does not grow with the orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection
from django.db.models import BigIntegerField, ExpressionWrapper, F, Max, Min, Sum
from django.db.models.functions import TruncDate
from numpy.typing import NDArray

from omo.commerce.models import Order
from omo.core.models import Brand
from omo.core.money import exponent
from omo.segments.clv.bgnbd import Array

TIME_UNITS: dict[str, int] = {"day": 1, "week": 7}  # days per time unit
ID_BLOCK = 50_000  # customer ids per query
_NET = ExpressionWrapper(F("total") - F("refunded_total"), output_field=BigIntegerField())


@dataclass(frozen=True)
class Summary:
    customer_id: NDArray[np.int64]
    x: Array
    t_x: Array
    T: Array
    monetary: Array
    first_day: dt.date | None  # the earliest first purchase (None: no customer bought)

    @property
    def customers(self) -> int:
        return len(self.customer_id)

    @property
    def repeat_customers(self) -> int:
        return int(np.count_nonzero(self.x))


def counted_orders(brand: Brand, calibration_end: dt.date):
    """The brand's counted orders of known customers placed up to the end of calibration_end (local)."""
    zone = ZoneInfo(brand.time_zone)
    end = dt.datetime.combine(calibration_end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return (
        Order.objects.filter(brand=brand, customer_id__isnull=False, placed_at__lt=end)
        .exclude(status=Order.Status.CANCELLED)
        .order_by()
    )


def _id_blocks(brand: Brand, calibration_end: dt.date, size: int) -> Iterator[tuple[int, int]]:
    bounds = counted_orders(brand, calibration_end).aggregate(low=Min("customer_id"), high=Max("customer_id"))
    if bounds["low"] is None:
        return
    low = bounds["low"]
    while low <= bounds["high"]:
        yield low, low + size
        low += size


def _day_number(value: dt.date | str) -> int:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return day.toordinal()


def _block_rows(brand: Brand, calibration_end: dt.date, low: int, high: int) -> list[tuple]:
    """(customer id, purchase days, first day, last day, net, net of the first day) per customer."""
    days = (
        counted_orders(brand, calibration_end)
        .filter(customer_id__gte=low, customer_id__lt=high)
        .annotate(day=TruncDate("placed_at", tzinfo=ZoneInfo(brand.time_zone)))
        .values("customer_id", "day")
        .annotate(net=Sum(_NET))
    )
    sql, params = days.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT customer_id, COUNT(*), MIN(first_day), MAX(day), SUM(net),
                   SUM(CASE WHEN day = first_day THEN net ELSE 0 END)
            FROM (SELECT d.*, MIN(d.day) OVER (PARTITION BY d.customer_id) AS first_day FROM ({sql}) d) w
            GROUP BY customer_id
            ORDER BY customer_id
            """,
            params,
        )
        return cursor.fetchall()


def customer_summaries(
    brand: Brand, *, calibration_end: dt.date, time_unit: str = "day", block: int = ID_BLOCK
) -> Summary:
    """The statistics of every customer with a counted order on or before calibration_end."""
    unit = TIME_UNITS[time_unit]
    scale = 10 ** exponent(brand.currency)
    end = calibration_end.toordinal()
    parts: list[np.ndarray] = []
    for low, high in _id_blocks(brand, calibration_end, block):
        rows = _block_rows(brand, calibration_end, low, high)
        if not rows:
            continue
        part = np.empty((len(rows), 6), dtype=np.float64)
        for i, (customer_id, purchases, first, last, net, first_net) in enumerate(rows):
            part[i] = (customer_id, purchases - 1, _day_number(first), _day_number(last), net, first_net)
        parts.append(part)
    table = np.concatenate(parts) if parts else np.empty((0, 6))
    x = table[:, 1]
    first_day = table[:, 2]
    repeat_net = (table[:, 4] - table[:, 5]) / scale
    monetary = np.divide(repeat_net, x, out=np.zeros_like(x), where=x > 0)
    return Summary(
        customer_id=table[:, 0].astype(np.int64),
        x=x,
        t_x=(table[:, 3] - first_day) / unit,
        T=(end - first_day) / unit,
        monetary=monetary,
        first_day=dt.date.fromordinal(int(first_day.min())) if len(first_day) else None,
    )
