"""Gap check for `omo followups sweep`: every order gets an attribution decision."""

from __future__ import annotations

import datetime as dt

from omo.attribution.models import Attribution
from omo.commerce.models import Order
from omo.core import followups
from omo.core.models import Brand


def orders_without_decision(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    """Orders with no Attribution row; repaired by the set-wise pass, which skips decided orders."""
    from omo.attribution import services

    orders = Order.objects.filter(brand=brand)
    if since is not None:
        orders = orders.filter(created_at__gte=since)
    decided = Attribution.objects.filter(brand=brand, order_id__in=orders.values("id"))
    ids = list(orders.exclude(pk__in=decided.values("order_id")).order_by("id").values_list("id", flat=True))
    if repair and ids:
        services.attribute_orders(brand, ids)
    return len(ids)


def register() -> None:
    followups.register(
        "attribution.orders", "訂單沒有業績歸屬 (orders without attribution)", orders_without_decision
    )
