"""What the commerce app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet, Sum

from omo.commerce import personal_data
from omo.commerce.importers import OrdersImporter
from omo.commerce.models import Order
from omo.commerce.selectors import SALE_STATUSES, customer_connection
from omo.core import imports
from omo.customers.selectors import register_connection
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
    imports.register_importer("orders", OrdersImporter)

    # What the app holds about a person: export, erasure, merge, split, retention
    # (omo/customers/personal_data.py).
    personal_data.register()

    # Loyalty tiers read the spend of the rolling window from the orders (omo/loyalty/spend.py).
    spend.register_source(net_spend_by_customer)

    # Which customers a store or a clerk sees through their orders (omo/customers/selectors.py).
    register_connection("commerce.orders", customer_connection)
