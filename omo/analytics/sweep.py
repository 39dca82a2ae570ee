"""Gap check for `omo followups sweep`: customers whose rollup activity (CustomerActivity, every
scope) differs from what their orders say. Repaired by the same recompute as the order events'
subscribers, which also moves the day histogram by the difference."""

from __future__ import annotations

import datetime as dt

from omo.analytics import rollups
from omo.analytics.models import CustomerActivity
from omo.analytics.rollups.activity import activities
from omo.analytics.rollups.cells import writable_zone
from omo.commerce.models import Order
from omo.core import followups
from omo.core.models import Brand


def stale_customers(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    """Customers with orders (written since `since`) whose stored activity is not what a recompute
    gives. Nothing to check before the rollup's first build (the dashboard reads the orders then)."""
    zone = writable_zone(brand.pk)
    if zone is None:
        return 0
    orders = Order.objects.filter(brand=brand, customer_id__isnull=False)
    if since is not None:
        orders = orders.filter(created_at__gte=since)
    customer_ids = orders.order_by("customer_id").values_list("customer_id", flat=True).distinct()
    found = 0
    for chunk in followups.chunked(customer_ids.iterator(chunk_size=followups.CHUNK)):
        expected = {
            (a.customer_id, a.scope, a.last_order_day, a.last_online_day, a.last_in_store_day)
            for a in activities(Order.objects.filter(brand=brand, customer_id__in=chunk), zone)
        }
        stored = set(
            CustomerActivity.objects.filter(brand=brand, customer_id__in=chunk).values_list(
                "customer_id", "scope", "last_order_day", "last_online_day", "last_in_store_day"
            )
        )
        stale = sorted({row[0] for row in expected ^ stored})
        found += len(stale)
        if repair and stale:
            rollups.refresh_customers(brand.pk, stale)
    return found


def register() -> None:
    followups.register(
        "rollup.customers", "顧客的銷售彙總活動過期 (customers with stale rollup activity)", stale_customers
    )
