"""Reads of a brand's Shopify connections, their webhooks and privacy requests (always by brand)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from omo.connectors.models import PrivacyRequest, ShopifyConnection, ShopifyWebhook


def connections_for(brand_id: int) -> QuerySet[ShopifyConnection]:
    return ShopifyConnection.objects.filter(brand_id=brand_id).annotate(
        failed_count=Count(
            "webhooks", filter=Q(webhooks__status=ShopifyWebhook.Status.FAILED), distinct=True
        ),
        open_privacy_count=Count(
            "privacy_requests", filter=Q(privacy_requests__status=PrivacyRequest.Status.OPEN), distinct=True
        ),
    )


def connection(brand_id: int, pk: int) -> ShopifyConnection | None:
    return ShopifyConnection.objects.filter(brand_id=brand_id, pk=pk).first()


def webhooks_of(connection: ShopifyConnection, status: str = "") -> QuerySet[ShopifyWebhook]:
    rows = ShopifyWebhook.objects.filter(brand_id=connection.brand_id, connection=connection).defer("payload")
    if status in ShopifyWebhook.Status.values:
        rows = rows.filter(status=status)
    return rows.order_by("-id")


def privacy_requests_of(connection: ShopifyConnection) -> QuerySet[PrivacyRequest]:
    return PrivacyRequest.objects.filter(brand_id=connection.brand_id, connection=connection).order_by(
        "status", "-id"
    )


def privacy_request(brand_id: int, pk: int) -> PrivacyRequest | None:
    return PrivacyRequest.objects.select_related("connection").filter(brand_id=brand_id, pk=pk).first()


def next_sync_at(connection: ShopifyConnection) -> dt.datetime | None:
    """When the schedule will queue this connection's next product sync (None: not scheduled).
    The periodic check runs every few minutes, so the sync starts shortly after this time."""
    if not connection.is_active or connection.is_uninstalled or connection.sync_interval_hours <= 0:
        return None
    if connection.last_synced_at is None:
        return connection.created_at
    return connection.last_synced_at + dt.timedelta(hours=connection.sync_interval_hours)
