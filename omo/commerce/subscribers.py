"""What commerce registers with the apps below it at start-up (called from CommerceConfig.ready)."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet, Sum

from omo.commerce.models import Order
from omo.commerce.selectors import SALE_STATUSES
from omo.loyalty import spend


def net_spend_by_customer(since: dt.datetime) -> QuerySet:
    """Net spend (sales less refunds) per customer of the orders placed since `since`."""
    return (
        Order.objects.filter(placed_at__gte=since, status__in=SALE_STATUSES, customer_id__isnull=False)
        .values("customer_id")
        .annotate(spend=Sum(F("total") - F("refunded_total")))
        .values("customer_id", "spend")
    )


def register() -> None:
    spend.register_source(net_spend_by_customer)
