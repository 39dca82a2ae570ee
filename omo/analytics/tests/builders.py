"""Order and customer builders for analytics and console tests.

They write rows directly (no services) so a test controls every figure and timestamp exactly.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from omo.catalog.models import Product
from omo.commerce.models import Order, OrderLine
from omo.core.models import Brand
from omo.customers import search
from omo.customers.models import Customer

_numbers = itertools.count(1001)


def make_customer(
    brand: Brand, name: str = "王小明", *, created_at: dt.datetime | None = None, **fields: Any
) -> Customer:
    customer = Customer.objects.create(brand=brand, name=name, **fields)
    search.refresh([customer.pk])
    if created_at is not None:  # created_at is auto_now_add, so it is set after the insert
        Customer.objects.filter(pk=customer.pk).update(created_at=created_at)
        customer.refresh_from_db()
    return customer


def make_order(
    brand: Brand,
    *,
    placed_at: dt.datetime,
    total: int,
    sales_channel: str = "pos",
    status: str = Order.Status.PAID,
    refunded_total: int = 0,
    lines: list[tuple[Product | None, int, int, int]] | None = None,
    **fields: Any,
) -> Order:
    """lines: [(product, quantity, line_total, refunded_quantity)]"""
    number = next(_numbers)
    fields.setdefault("name", f"T{number}")
    order = Order.objects.create(
        brand=brand,
        source="test",
        external_id=str(number),
        sales_channel=sales_channel,
        status=status,
        subtotal=total,
        total=total,
        refunded_total=refunded_total,
        placed_at=placed_at,
        **fields,
    )
    for product, quantity, line_total, refunded_quantity in lines or []:
        variant = product.variants.first() if product is not None else None
        OrderLine.objects.create(
            brand=brand,
            order=order,
            product=product,
            variant=variant,
            sku=variant.sku if variant else "",
            title=product.title if product else "未知商品",
            quantity=quantity,
            unit_price=line_total // quantity if quantity else 0,
            total=line_total,
            refunded_quantity=refunded_quantity,
            placed_at=placed_at,
        )
    return order
