"""Gap check for `omo followups sweep`: an event an endpoint subscribed to (while it existed) has a
delivery row for that endpoint. The event is rebuilt from its domain row and queued through
`services.record_event`, which skips endpoints that already have it (unique endpoint × event id)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from omo.attribution.models import Attribution
from omo.binding.models import Binding
from omo.core import followups
from omo.core.models import Brand
from omo.customers.models import CustomerMerge
from omo.outgoing_webhooks import services
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.outgoing_webhooks.topics import TOPICS, event_id


def _attributed(brand: Brand, since: dt.datetime) -> Iterator[tuple[dict[str, Any], dt.datetime]]:
    rows = Attribution.objects.filter(brand=brand, clerk_id__isnull=False, decided_at__gte=since)
    for order_id, clerk_id, store_id, rule, at in rows.order_by("order_id").values_list(
        "order_id", "clerk_id", "store_id", "rule", "decided_at"
    ):
        payload = {
            "brand_id": brand.pk,
            "order_id": order_id,
            "clerk_id": clerk_id,
            "store_id": store_id,
            "rule": rule,
        }
        yield payload, at


def _merged(brand: Brand, since: dt.datetime) -> Iterator[tuple[dict[str, Any], dt.datetime]]:
    rows = CustomerMerge.objects.filter(brand=brand, created_at__gte=since)
    for merge_id, survivor_id, merged_id, automatic, at in rows.order_by("id").values_list(
        "id", "survivor_id", "merged_id", "automatic", "created_at"
    ):
        yield (
            {
                "brand_id": brand.pk,
                "merge_id": merge_id,
                "survivor_id": survivor_id,
                "merged_id": merged_id,
                "automatic": automatic,
            },
            at,
        )


def _bound(brand: Brand, since: dt.datetime) -> Iterator[tuple[dict[str, Any], dt.datetime]]:
    rows = Binding.objects.filter(brand=brand, started_at__gte=since)
    for binding_id, customer_id, clerk_id, store_id, source, at in rows.order_by("id").values_list(
        "id", "customer_id", "clerk_id", "store_id", "source", "started_at"
    ):
        yield (
            {
                "brand_id": brand.pk,
                "binding_id": binding_id,
                "customer_id": customer_id,
                "clerk_id": clerk_id,
                "store_id": store_id,
                "source": source,
            },
            at,
        )


EVENTS = {"order.attributed": _attributed, "customer.merged": _merged, "binding.created": _bound}


def missing_deliveries(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    """Events of the topics each active endpoint takes, since the endpoint was created, that have no
    delivery for it. Counted once per event (however many endpoints lack it)."""
    endpoints = list(
        WebhookEndpoint.objects.filter(brand=brand, is_active=True).values_list("id", "topics", "created_at")
    )
    found = 0
    for topic, source in EVENTS.items():
        takers = [(pk, created) for pk, topics, created in endpoints if topic in topics]
        if not takers:
            continue
        start = min(created for _, created in takers)
        if since is not None:
            start = max(start, since)
        key = TOPICS[topic].key
        for chunk in followups.chunked(source(brand, start)):
            ids = {event_id(brand.pk, topic, payload[key]): (payload, at) for payload, at in chunk}
            have = set(
                WebhookDelivery.objects.filter(
                    brand=brand, endpoint_id__in=[pk for pk, _ in takers], event_id__in=list(ids)
                ).values_list("endpoint_id", "event_id")
            )
            for eid, (payload, at) in ids.items():
                owed = [pk for pk, created in takers if (pk, eid) not in have and created <= at]
                if not owed:
                    continue
                found += 1
                if repair:
                    services.record_event(topic, payload)
    return found


def register() -> None:
    followups.register(
        "webhooks.deliveries",
        "已訂閱事件沒有 webhook 傳送紀錄 (subscribed events without a webhook delivery)",
        missing_deliveries,
    )
