"""Reads of a brand's webhook endpoints and delivery log (always filtered by brand)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_for(brand_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(brand_id=brand_id).annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.PENDING)),
        failed_count=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.Status.FAILED)),
    )


def endpoint(brand_id: int, pk: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(brand_id=brand_id, pk=pk).first()


def deliveries_of(endpoint: WebhookEndpoint, status: str = "") -> QuerySet[WebhookDelivery]:
    rows = WebhookDelivery.objects.filter(brand_id=endpoint.brand_id, endpoint=endpoint).defer("body")
    if status in WebhookDelivery.Status.values:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def delivery(brand_id: int, pk: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint").filter(brand_id=brand_id, pk=pk).first()
