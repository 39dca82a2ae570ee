"""Reads about orders that several apps share."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Sum

from omo.commerce.models import Order

# Orders that count as a sale (spend, tiers, dashboards): paid or beyond, not cancelled.
SALE_STATUSES = (
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.PARTIALLY_REFUNDED,
    Order.Status.REFUNDED,
)


def net_spend_since(customer, since: dt.datetime) -> int:
    value = Order.objects.filter(customer=customer, placed_at__gte=since, status__in=SALE_STATUSES).aggregate(
        s=Sum(F("total") - F("refunded_total"))
    )["s"]
    return int(value or 0)


def customer_orders(customer):
    return (
        Order.objects.filter(brand_id=customer.brand_id, customer=customer)
        .select_related("store")
        .order_by("-placed_at", "-id")
    )
