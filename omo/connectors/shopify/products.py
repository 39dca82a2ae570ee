"""Products into the catalogue (products by handle, variants by SKU): from products/create|update
webhooks, and from a full sync through the GraphQL Admin API.

Syncs are queued by HQ (the console's button) and by the schedule (`sync_due_products`, every few
minutes from omo.core.schedule): each active connection every `sync_interval_hours`, never two
syncs at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from omo.catalog import services as catalog
from omo.catalog.models import Product, Variant
from omo.catalog.services import CatalogError
from omo.connectors.models import ShopifyConnection, ShopifyRecord, ShopifyWebhook
from omo.connectors.shopify import mapping
from omo.connectors.shopify.client import GraphQLClient, ShopifyApiError, api_base
from omo.connectors.shopify.mapping import MappingError, ProductSpec
from omo.connectors.shopify.records import Outcome, locked_record
from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import DomainError

logger = logging.getLogger(__name__)


# A queued or running sync whose worker has not finished within this time is taken as lost.
SYNC_STALE_AFTER = dt.timedelta(hours=3)

SYNC_BUSY = (ShopifyConnection.SyncStatus.QUEUED, ShopifyConnection.SyncStatus.RUNNING)


def apply_product_webhook(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    spec = mapping.product_from_rest(receipt.payload, currency=connection.brand.currency)
    result = apply_product(connection, spec)
    if result == "stale":
        return Outcome(
            ShopifyWebhook.Status.IGNORED, f"stale: product {spec.shopify_id} has a newer version applied"
        )
    return Outcome(ShopifyWebhook.Status.PROCESSED, f"product {spec.handle} {result}")


@transaction.atomic
def apply_product(connection: ShopifyConnection, spec: ProductSpec) -> str:
    """Create or update one product and its variants; returns created | updated | unchanged | stale."""
    brand = connection.brand
    if not spec.handle:
        raise MappingError("handle", "is required")
    record = locked_record(connection, ShopifyRecord.Kind.PRODUCT, spec.shopify_id)
    if record.updated_at is not None and spec.updated_at is not None and spec.updated_at <= record.updated_at:
        return "stale" if spec.updated_at < record.updated_at else "unchanged"
    product = Product.objects.filter(brand=brand, pk=record.local_id).first() if record.local_id else None
    product = product or Product.objects.filter(brand=brand, handle=spec.handle).first()
    fields = {
        "title": spec.title,
        "description": spec.description,
        "vendor": spec.vendor,
        "status": spec.status,
    }
    if product is None:
        product = catalog.create_product(brand, actor=None, handle=spec.handle, **fields)
        result = "created"
    else:
        changes = {
            key: value
            for key, value in {**fields, "handle": spec.handle}.items()
            if getattr(product, key) != value
        }
        if changes:
            catalog.update_product(product, actor=None, **changes)
        result = "updated"
    seen = set()
    for index, variant in enumerate(spec.variants):
        prefix = f"variants[{index}]."
        existing = Variant.objects.filter(brand=brand, sku=variant.sku).select_related("product").first()
        if existing is not None and existing.product_id != product.pk:
            raise CatalogError(
                f"{prefix}sku", f"sku {variant.sku} already belongs to product {existing.product.handle}"
            )
        values = {
            "title": variant.title,
            "barcode": variant.barcode,
            "price": variant.price,
            "compare_at_price": variant.compare_at_price,
            "options": variant.options,
        }
        if existing is None:
            catalog.add_variant(
                product, actor=None, sku=variant.sku, sort_order=index, field_prefix=prefix, **values
            )
        else:
            changes = {
                k: v
                for k, v in {**values, "is_active": True, "sort_order": index}.items()
                if getattr(existing, k) != v
            }
            if changes:
                catalog.update_variant(existing, actor=None, **changes)
        seen.add(variant.sku)
    for gone in product.variants.exclude(sku__in=seen).filter(is_active=True):
        catalog.update_variant(gone, actor=None, is_active=False)
    for url in spec.image_urls:
        if not product.images.filter(url=url).exists():
            try:
                catalog.add_image(product, actor=None, url=url)
            except CatalogError:
                logger.info("image %r of Shopify product %s skipped", url, spec.shopify_id)
    record.updated_at = spec.updated_at or record.updated_at
    record.local_id = product.pk
    record.save(update_fields=["updated_at", "local_id"])
    return result


def client_for(connection: ShopifyConnection, **options: Any) -> GraphQLClient:
    return GraphQLClient(
        base=api_base(connection.shop_domain, connection.api_base),
        api_version=connection.api_version,
        access_token=connection.secrets.get("access_token", ""),
        **options,
    )


class SyncRefused(DomainError):
    """A sync that may not start: the app is uninstalled (code "uninstalled") or one is already
    queued or running (code "busy")."""

    status = 409

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)


def _busy(connection: ShopifyConnection, now: dt.datetime) -> bool:
    """Queued or running, and not so long ago that its worker must have died."""
    if connection.sync_status not in SYNC_BUSY:
        return False
    started = connection.sync_started_at
    return started is None or started > now - SYNC_STALE_AFTER


@transaction.atomic
def request_product_sync(connection: ShopifyConnection, *, actor: Actor, trigger: str = "console") -> bool:
    """Queue a sync (console button, schedule). False when one is already queued or running;
    SyncRefused when the app was uninstalled."""
    from omo.connectors.tasks import sync_shopify_products

    locked = ShopifyConnection.objects.select_for_update().get(pk=connection.pk)
    if locked.uninstalled_at is not None:
        raise SyncRefused(
            "uninstalled",
            f"the app was uninstalled from {locked.shop_domain} at {locked.uninstalled_at.isoformat()}",
        )
    now = timezone.now()
    if _busy(locked, now):
        return False
    locked.sync_status = ShopifyConnection.SyncStatus.QUEUED
    locked.sync_started_at = now
    locked.save(update_fields=["sync_status", "sync_started_at"])
    audit.record(actor, "shopify.sync_requested", locked, trigger=trigger)
    transaction.on_commit(lambda: sync_shopify_products.enqueue(locked.pk))
    return True


def due_for_sync(now: dt.datetime | None = None) -> list[ShopifyConnection]:
    """Active, installed connections with a sync interval whose last sync is that old (or never ran)."""
    now = now or timezone.now()
    due = []
    for connection in ShopifyConnection.objects.select_related("brand").filter(
        is_active=True, uninstalled_at__isnull=True, sync_interval_hours__gt=0
    ):
        last = connection.last_synced_at
        if last is not None and last > now - dt.timedelta(hours=connection.sync_interval_hours):
            continue
        if _busy(connection, now):
            continue
        due.append(connection)
    return due


def sync_due_products(now: dt.datetime | None = None) -> dict[str, Any]:
    """The periodic job (registered in omo.core.schedule): queue the sync of every connection that is due."""
    queued = []
    for connection in due_for_sync(now):
        try:
            if request_product_sync(connection, actor=Actor.system(connection.brand), trigger="schedule"):
                queued.append(connection.pk)
        except SyncRefused:
            continue  # uninstalled since it was listed
    return {"queued": queued}


def _claim_sync(connection: ShopifyConnection) -> str:
    """Mark the sync running unless another one is ("" when claimed, else why not)."""
    now = timezone.now()
    with transaction.atomic():
        locked = ShopifyConnection.objects.select_for_update().get(pk=connection.pk)
        if locked.uninstalled_at is not None:
            return f"app: uninstalled from the store at {locked.uninstalled_at.isoformat()}"
        running = locked.sync_status == ShopifyConnection.SyncStatus.RUNNING
        if running and locked.sync_started_at and locked.sync_started_at > now - SYNC_STALE_AFTER:
            return f"sync: already running since {locked.sync_started_at.isoformat()}"
        locked.sync_status = ShopifyConnection.SyncStatus.RUNNING
        locked.sync_error = ""
        locked.sync_started_at = now
        locked.save(update_fields=["sync_status", "sync_error", "sync_started_at"])
    return ""


def sync_products(connection: ShopifyConnection, *, client: GraphQLClient | None = None) -> dict[str, Any]:
    """Read every product through GraphQL into the catalogue. One product's error does not stop the rest.

    Never two at once for one connection: a sync that finds another one running (started less than
    SYNC_STALE_AFTER ago) returns {"skipped": why} and changes nothing."""
    refused = _claim_sync(connection)
    if refused:
        return {"skipped": refused}
    client = client or client_for(connection)
    counts: dict[str, Any] = {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "stale": 0,
        "failed": 0,
        "errors": [],
    }
    error = ""
    try:
        for node, variants in client.products():
            if client.shop_currency and client.shop_currency != connection.brand.currency:
                raise ShopifyApiError(
                    "currency",
                    f"the store sells in {client.shop_currency}, the brand in {connection.brand.currency}",
                )
            try:
                spec = mapping.product_from_graphql(
                    node, currency=connection.brand.currency, variants=variants
                )
                counts[apply_product(connection, spec)] += 1
            except (MappingError, CatalogError) as exc:
                counts["failed"] += 1
                if len(counts["errors"]) < 20:
                    counts["errors"].append(
                        {"handle": str(node.get("handle", "")), "field": exc.field, "message": exc.message}
                    )
    except ShopifyApiError as exc:
        error = f"{exc.field}: {exc.message}"
    counts["requests"] = client.requests
    counts["throttle_waits"] = len(client.waits)
    counts["waited_seconds"] = round(sum(client.waits), 3)
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        sync_status=ShopifyConnection.SyncStatus.FAILED if error else ShopifyConnection.SyncStatus.DONE,
        sync_error=error,
        last_synced_at=timezone.now(),
        last_sync_counts=counts,
    )
    if error:
        counts["error"] = error
    return counts
