"""Where loyalty reads a customer's spend for tiers: the sales app below it registers the source.

Tiers move with the net spend of the rolling window, which the orders hold; loyalty sits below
commerce, so commerce fills this in its AppConfig.ready (omo/commerce/subscribers.py) instead of
loyalty reading the orders itself.

A source takes the start of the window and answers a query of rows `customer_id, spend`: the net
spend (sales less refunds, minor units) of each customer with a sale placed since then. Loyalty
narrows it to the customers it needs (one, a batch, or a correlated subquery for a whole brand).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import QuerySet

SpendSource = Callable[[dt.datetime], QuerySet]

_source: SpendSource | None = None


def register_source(source: SpendSource) -> None:
    global _source
    _source = source


def spend_since(since: dt.datetime) -> QuerySet:
    """Rows of `customer_id, spend` for sales placed since `since` (see the module docstring)."""
    if _source is None:
        raise RuntimeError("no spend source registered: is omo.commerce in INSTALLED_APPS?")
    return _source(since)
