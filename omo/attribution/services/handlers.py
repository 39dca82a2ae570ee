"""The durable subscribers of order events (registered in omo/attribution/subscribers.py)."""

from __future__ import annotations

import logging
from typing import Any

from omo.attribution.models import (
    Attribution,
)
from omo.attribution.services.batch import attribute_orders
from omo.attribution.services.orders import attribute_order, reverse_for_cancellation, reverse_for_refund
from omo.core.models import Brand

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.


def on_order_recorded(payload: dict[str, Any]) -> None:
    """`order.recorded` arrives after commit: decide at once, so the clerk sees the sale right away.
    Orders of a bulk ingest are decided together by on_orders_batch_recorded instead."""
    if payload["in_batch"]:
        return
    attribute_order(int(payload["order_id"]))


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    """A batch of ingested orders: one set-wise pass instead of one decision per order."""
    attribute_orders(Brand.objects.get(pk=payload["brand_id"]), payload["order_ids"])


def on_order_refunded(payload: dict[str, Any]) -> None:
    reverse_for_refund(int(payload["refund_id"]))


def on_order_cancelled(payload: dict[str, Any]) -> None:
    reverse_for_cancellation(int(payload["order_id"]))
