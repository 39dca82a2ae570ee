"""Named domain events. Services publish; subscribers run after the transaction commits.

Subscribers are registered once per app (in its AppConfig.ready) with `subscribe`. Publishing
inside a transaction defers delivery to `on_commit`, so nothing reacts to a change that rolled back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)

# The events the product publishes, with the keys each payload carries.
EVENT_SCHEMAS: dict[str, frozenset[str]] = {
    # in_batch: part of a bulk ingest; subscribers that work set-wise use "orders.batch_recorded".
    "order.recorded": frozenset({"brand_id", "order_id", "sales_channel", "status", "created", "in_batch"}),
    "orders.batch_recorded": frozenset({"brand_id", "order_ids"}),
    "order.paid": frozenset({"brand_id", "order_id"}),
    "order.cancelled": frozenset({"brand_id", "order_id"}),
    "order.refunded": frozenset({"brand_id", "order_id", "refund_id", "amount"}),
    "customer.created": frozenset({"brand_id", "customer_id"}),
    "points.changed": frozenset({"brand_id", "customer_id", "delta", "balance"}),
    # ledger entries written (one or a bulk earn): set-wise subscribers read them by id
    "points.posted": frozenset({"brand_id", "entry_ids"}),
    # coupon codes handed to customers (omo/loyalty/services.py issue_codes) and a code used on an order
    "coupons.issued": frozenset({"brand_id", "code_ids"}),
    "coupon.redeemed": frozenset({"brand_id", "redemption_id"}),
    # a person (not a link preview) opened a tracked link (omo/attribution/services.py record_click)
    "link.clicked": frozenset({"brand_id", "click_id"}),
    "message.created": frozenset({"brand_id", "conversation_id", "message_id", "direction"}),
    # an outgoing message's delivery status changed (queued → sent / failed, failed → queued)
    "message.updated": frozenset({"brand_id", "conversation_id", "message_id", "status"}),
    # inbox routing and binding (omo/inbox/routing.py, omo/inbox/services.py, omo/binding/services.py)
    "conversation.assigned": frozenset(
        {
            "brand_id",
            "conversation_id",
            "queue",
            "assignee_id",
            "store_id",
            "previous_assignee_id",
            "previous_store_id",
            "reason",
        }
    ),
    "conversation.updated": frozenset({"brand_id", "conversation_id", "fields"}),
    "binding.created": frozenset({"brand_id", "binding_id", "customer_id", "clerk_id", "store_id", "source"}),
    "binding.ended": frozenset({"brand_id", "binding_id", "customer_id", "clerk_id", "reason"}),
    # identity resolution (omo/customers/merge.py): `merged_id` now belongs to `survivor_id`
    "customer.merged": frozenset({"brand_id", "merge_id", "survivor_id", "merged_id", "automatic"}),
    "customer.split": frozenset({"brand_id", "merge_id", "survivor_id", "merged_id"}),
    # an order's sale was credited to a clerk (omo/attribution/services.py)
    "order.attributed": frozenset({"brand_id", "order_id", "clerk_id", "store_id", "rule"}),
    # consent changed for a customer × platform × purpose (omo/customers/consent.py)
    "consent.changed": frozenset({"brand_id", "customer_id", "platform", "purpose", "granted", "source"}),
    # personal data erased on request (omo/customers/privacy.py)
    "customer.erased": frozenset({"brand_id", "customer_id"}),
}


def subscribe(name: str, handler: Handler) -> None:
    if name not in EVENT_SCHEMAS:
        raise KeyError(f"unknown event {name!r}")
    if handler not in _subscribers[name]:
        _subscribers[name].append(handler)


def _checked(name: str, payload: dict[str, Any]) -> None:
    expected = EVENT_SCHEMAS.get(name)
    if expected is None:
        raise KeyError(f"unknown event {name!r}")
    if set(payload) != expected:
        raise ValueError(f"event {name} expects keys {sorted(expected)}, got {sorted(payload)}")


def _deliver(name: str, payload: dict[str, Any]) -> None:
    for handler in list(_subscribers[name]):
        try:
            handler(payload)
        except Exception:  # one subscriber failing must not break the others
            logger.exception("subscriber %s of %s failed", handler, name)


def publish(name: str, **payload: Any) -> None:
    _checked(name, payload)
    transaction.on_commit(lambda: _deliver(name, payload))


def publish_many(name: str, payloads: Iterable[dict[str, Any]]) -> None:
    """`publish(name, **payload)` for each payload, in order, with one commit hook for all of them
    (a bulk ingest publishes one event per order; a hook each cost more than the subscribers)."""
    payloads = list(payloads)
    for payload in payloads:
        _checked(name, payload)
    if not payloads:
        return

    def deliver() -> None:
        for payload in payloads:
            _deliver(name, payload)

    transaction.on_commit(deliver)
