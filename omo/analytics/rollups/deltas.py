"""Deltas written in the same transaction as the order change: a rolled-back order never counts and
a committed one always does. A deleted store or product moves its cells to "no store" /
"unknown product" in the deleting transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from omo.analytics.models import (
    NO_STORE,
    UNKNOWN_PRODUCT,
    CustomerActivity,
    CustomerDay,
    ProductSalesDay,
    SalesDay,
)
from omo.analytics.rollups.cells import (
    CANCELLED,
    add_cells,
    column,
    empty_cells,
    line_net,
    move_cells,
    order_place,
    writable_zone,
)
from omo.commerce.models import Order, OrderLine


def add_orders(brand_id: int, orders: Sequence[Order], lines: Iterable[Any]) -> None:
    """Count newly written orders and their lines (OrderLine instances or column dicts).

    Call inside the recording transaction, after its other writes."""
    if not orders:
        return
    zone = writable_zone(brand_id)
    if zone is None:
        return
    sales = empty_cells(SalesDay)
    cell_of: dict[int, tuple[dt.date, int]] = {}
    for order in orders:
        if order.status == CANCELLED:
            continue
        day, store = order_place(order, zone)
        cell = sales[(day, store, str(order.sales_channel))]
        cell[0] += 1
        cell[1] += order.total - order.refunded_total
        cell_of[order.pk] = (day, store)
    products = empty_cells(ProductSalesDay)
    for line in lines:
        quantity = column(line, "quantity")
        place = cell_of.get(column(line, "order_id"))
        if place is None or quantity <= 0:
            continue
        refunded = column(line, "refunded_quantity")
        cell = products[(*place, column(line, "product_id") or UNKNOWN_PRODUCT)]
        cell[0] += line_net(column(line, "total"), quantity, refunded)
        cell[1] += quantity - refunded
        cell[2] += 1
    add_cells(SalesDay, brand_id, sales)
    add_cells(ProductSalesDay, brand_id, products)


def remove_order(order: Order) -> None:
    """An order was cancelled: take back all it counted. Inside the cancelling transaction."""
    zone = writable_zone(order.brand_id)
    if zone is None:
        return
    day, store = order_place(order, zone)
    add_cells(
        SalesDay,
        order.brand_id,
        {(day, store, order.sales_channel): [-1, -(order.total - order.refunded_total)]},
    )
    products = empty_cells(ProductSalesDay)
    for product_id, quantity, total, refunded in OrderLine.objects.filter(
        order_id=order.pk, quantity__gt=0
    ).values_list("product_id", "quantity", "total", "refunded_quantity"):
        cell = products[(day, store, product_id or UNKNOWN_PRODUCT)]
        cell[0] -= line_net(total, quantity, refunded)
        cell[1] -= quantity - refunded
        cell[2] -= 1
    add_cells(ProductSalesDay, order.brand_id, products)


def refund_lines(order: Order, amount: int, lines: Iterable[tuple[OrderLine, int]]) -> None:
    """`amount` was refunded on `order`, `lines` as (line before the refund, units refunded)."""
    zone = writable_zone(order.brand_id)
    if zone is None:
        return
    day, store = order_place(order, zone)
    add_cells(SalesDay, order.brand_id, {(day, store, order.sales_channel): [0, -amount]})
    refunded: dict[int, int] = defaultdict(int)
    by_id: dict[int, OrderLine] = {}
    for line, units in lines:
        refunded[line.pk] += units
        by_id[line.pk] = line
    products = empty_cells(ProductSalesDay)
    for line_id, units in refunded.items():
        line = by_id[line_id]
        if line.quantity <= 0:
            continue
        before = line_net(line.total, line.quantity, line.refunded_quantity)
        after = line_net(line.total, line.quantity, line.refunded_quantity + units)
        cell = products[(day, store, line.product_id or UNKNOWN_PRODUCT)]
        cell[0] += after - before
        cell[1] -= units
    add_cells(ProductSalesDay, order.brand_id, products)


def forget_product(brand_id: int, product_id: int) -> None:
    """A product was deleted: its lines now have no product, so its cells join "unknown product".
    Inside the deleting transaction (after the lines' product was set to NULL)."""
    if writable_zone(brand_id) is None:
        return
    move_cells(
        ProductSalesDay,
        brand_id,
        ProductSalesDay.objects.filter(brand_id=brand_id, product_id=product_id),
        product_id=UNKNOWN_PRODUCT,
    )


def forget_store(brand_id: int, store_id: int) -> None:
    """A store was deleted: its orders now have no store, so its cells join "no store", and no one
    is scoped to it any more. Inside the deleting transaction."""
    if writable_zone(brand_id) is None:
        return
    for model in (SalesDay, ProductSalesDay):
        move_cells(
            model, brand_id, model.objects.filter(brand_id=brand_id, store_id=store_id), store_id=NO_STORE
        )
    CustomerActivity.objects.filter(brand_id=brand_id, scope=store_id).delete()
    CustomerDay.objects.filter(brand_id=brand_id, scope=store_id).delete()
