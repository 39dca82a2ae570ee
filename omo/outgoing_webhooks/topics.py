"""The topics an endpoint can subscribe to, and what each event's `data` carries.

One entry per topic: the domain event it follows (omo.core.events), its label, the key of the
domain row it is about (which makes the event id stable: publishing the same fact twice is one
event) and a function that reads what integrators need from the database. To offer another topic,
add an entry here; OutgoingWebhooksConfig.ready subscribes to every entry.

Amounts are integers in the currency's minor unit, as everywhere in omo (TWD: cents).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from omo.attribution.models import Attribution
from omo.binding.models import Binding
from omo.commerce.models import Order
from omo.customers.models import Customer, CustomerMerge
from omo.staff.models import Store, User

TEST_TOPIC = "webhook.test"
_EVENT_NAMESPACE = uuid.UUID("6f1d2c1e-8a4b-4f0e-9a53-0c4be1f7d2a9")


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def _clerk(user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id).values("id", "display_name", "username", "employee_code").first()
    if user is None:
        return {"id": user_id, "name": "", "employee_code": ""}
    return {
        "id": user["id"],
        "name": user["display_name"] or user["username"],
        "employee_code": user["employee_code"],
    }


def _store(store_id: int | None) -> dict[str, Any] | None:
    if store_id is None:
        return None
    store = Store.objects.filter(pk=store_id).values("id", "code", "name").first()
    return dict(store) if store is not None else {"id": store_id, "code": "", "name": ""}


def _customer(customer_id: int | None) -> dict[str, Any] | None:
    """Ids and the member number only: contact details never leave in a webhook."""
    if customer_id is None:
        return None
    row = Customer.objects.filter(pk=customer_id).values("id", "member_number").first()
    return dict(row) if row is not None else {"id": customer_id, "member_number": ""}


def order_attributed(payload: dict[str, Any]) -> dict[str, Any]:
    order = Order.objects.filter(pk=payload["order_id"], brand_id=payload["brand_id"]).values(
        "id",
        "name",
        "source",
        "external_id",
        "sales_channel",
        "status",
        "currency",
        "subtotal",
        "discount_total",
        "shipping_total",
        "tax_total",
        "total",
        "placed_at",
        "customer_id",
    ).first() or {"id": payload["order_id"]}
    reason: Mapping[str, Any] = (
        Attribution.objects.filter(order_id=payload["order_id"]).values("reason_zh", "reason_en").first()
        or {}
    )
    return {
        "order": {
            "id": order["id"],
            "number": order.get("name", ""),
            "source": order.get("source", ""),
            "external_id": order.get("external_id", ""),
            "sales_channel": order.get("sales_channel", ""),
            "status": order.get("status", ""),
            "currency": order.get("currency", ""),
            "subtotal": order.get("subtotal"),
            "discount_total": order.get("discount_total"),
            "shipping_total": order.get("shipping_total"),
            "tax_total": order.get("tax_total"),
            "total": order.get("total"),
            "placed_at": _iso(order.get("placed_at")),
            "customer_id": order.get("customer_id"),
        },
        "clerk": _clerk(payload["clerk_id"]),
        "store": _store(payload["store_id"]),
        "rule": payload["rule"],
        "reason": {"zh_hant": reason.get("reason_zh", ""), "en": reason.get("reason_en", "")},
    }


def customer_merged(payload: dict[str, Any]) -> dict[str, Any]:
    merge: Mapping[str, Any] = (
        CustomerMerge.objects.filter(pk=payload["merge_id"]).values("reason", "trigger_kind").first() or {}
    )
    return {
        "merge_id": payload["merge_id"],
        "survivor_id": payload["survivor_id"],
        "merged_id": payload["merged_id"],
        "survivor": _customer(payload["survivor_id"]),
        "automatic": bool(payload["automatic"]),
        "reason": merge.get("reason", ""),
        "trigger_kind": merge.get("trigger_kind", ""),
    }


def binding_created(payload: dict[str, Any]) -> dict[str, Any]:
    started = Binding.objects.filter(pk=payload["binding_id"]).values_list("started_at", flat=True).first()
    return {
        "binding_id": payload["binding_id"],
        "customer": _customer(payload["customer_id"]),
        "clerk": _clerk(payload["clerk_id"]),
        "store": _store(payload["store_id"]),
        "source": payload["source"],
        "started_at": _iso(started),
    }


@dataclass(frozen=True)
class Topic:
    name: str  # also the omo.core.events name it follows
    label: Promise
    key: str  # the payload key naming the domain row: one event per row
    data: Callable[[dict[str, Any]], dict[str, Any]]


TOPICS: dict[str, Topic] = {
    topic.name: topic
    for topic in (
        Topic(
            "order.attributed",
            pgettext_lazy("webhooks", "訂單業績歸屬給店員"),
            "order_id",
            order_attributed,
        ),
        Topic(
            "customer.merged",
            pgettext_lazy("webhooks", "顧客資料合併"),
            "merge_id",
            customer_merged,
        ),
        Topic(
            "binding.created",
            pgettext_lazy("webhooks", "顧客綁定店員"),
            "binding_id",
            binding_created,
        ),
    )
}


def topic_choices() -> list[tuple[str, Promise]]:
    return [(name, topic.label) for name, topic in TOPICS.items()]


def event_id(brand_id: int, topic: str, key: int | str) -> str:
    """The stable id of the event about one domain row (same on every publication and attempt)."""
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"{brand_id}:{topic}:{key}").hex


def new_event_id() -> str:
    """An id for an event that is not about a domain row (test events)."""
    return "evt_" + uuid.uuid4().hex
