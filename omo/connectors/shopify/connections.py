"""Connecting a Shopify store: its settings and secrets (checked when saved), and its end.

app/uninstalled marks the connection uninstalled (data kept, syncing stopped). Later deliveries are
still verified and stored, but only the privacy topics are processed (Shopify sends shop/redact 48
hours after an uninstall); HQ entering a new access token reinstalls.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from omo.commerce.models import SalesChannel
from omo.connectors.models import MAX_SYNC_INTERVAL_HOURS, ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify.products import SYNC_BUSY
from omo.connectors.shopify.records import Outcome
from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")

API_VERSION = re.compile(r"^(20[2-9][0-9]-(01|04|07|10)|unstable)$")


class ShopifySettingsError(FieldError, ValueError):
    """A refused connection setting, naming the form field."""


def _clean_settings(
    brand: Brand, values: dict[str, Any], *, instance: ShopifyConnection | None
) -> dict[str, Any]:
    cleaned = dict(values)
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise ShopifySettingsError("name", "is required")
    if "shop_domain" in cleaned:
        domain = (cleaned["shop_domain"] or "").strip().lower().removeprefix("https://").rstrip("/")
        if not SHOP_DOMAIN.match(domain):
            raise ShopifySettingsError(
                "shop_domain", "must be the store's myshopify.com domain, e.g. herb.myshopify.com"
            )
        clash = ShopifyConnection.objects.filter(brand=brand, shop_domain=domain)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise ShopifySettingsError("shop_domain", f"{domain} is already connected")
        cleaned["shop_domain"] = domain
    if "api_version" in cleaned:
        version = (cleaned["api_version"] or "").strip()
        if not API_VERSION.match(version):
            raise ShopifySettingsError(
                "api_version", "must be a quarterly version such as 2025-07 (YYYY-01|04|07|10)"
            )
        cleaned["api_version"] = version
    if "sales_channel" in cleaned and cleaned["sales_channel"] not in SalesChannel.values:
        raise ShopifySettingsError("sales_channel", f"unknown sales channel {cleaned['sales_channel']!r}")
    if "sync_interval_hours" in cleaned:
        raw = cleaned["sync_interval_hours"]
        hours = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if hours is None and isinstance(raw, str) and raw.strip().isdigit():
            hours = int(raw.strip())
        if hours is None or not 0 <= hours <= MAX_SYNC_INTERVAL_HOURS:
            raise ShopifySettingsError(
                "sync_interval_hours",
                f"must be a whole number of hours from 0 (no automatic sync) to {MAX_SYNC_INTERVAL_HOURS}",
            )
        cleaned["sync_interval_hours"] = hours
    if cleaned.get("api_base"):
        base = cleaned["api_base"].strip().rstrip("/")
        if not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", base):
            raise ShopifySettingsError("api_base", "must be an http(s) URL")
        cleaned["api_base"] = base
    return cleaned


def _check_secret(field: str, value: str, *, required: bool) -> str:
    value = (value or "").strip()
    if not value and required:
        raise ShopifySettingsError(field, "is required")
    if value and (len(value) < 8 or len(value) > 300 or any(c.isspace() for c in value)):
        raise ShopifySettingsError(
            field, "must be 8–300 characters without spaces (paste it as shown in Shopify)"
        )
    return value


@transaction.atomic
def create_connection(
    brand: Brand,
    *,
    actor: Actor,
    name: str,
    shop_domain: str,
    access_token: str,
    webhook_secret: str,
    api_version: str = "2025-07",
    sales_channel: str = SalesChannel.EXTERNAL_WEB,
    api_base: str = "",
    sync_interval_hours: int = ShopifyConnection._meta.get_field("sync_interval_hours").default,
) -> ShopifyConnection:
    values = _clean_settings(
        brand,
        {
            "name": name,
            "shop_domain": shop_domain,
            "api_version": api_version,
            "sales_channel": sales_channel,
            "api_base": api_base,
            "sync_interval_hours": sync_interval_hours,
        },
        instance=None,
    )
    secrets: dict[str, Any] = {
        "access_token": _check_secret("access_token", access_token, required=True),
        "webhook_secret": _check_secret("webhook_secret", webhook_secret, required=True),
    }
    connection = ShopifyConnection.objects.create(brand=brand, secrets=secrets, **values)
    audit.record(actor, "shopify.connected", connection, shop_domain=connection.shop_domain)
    return connection


SETTINGS_FIELDS = (
    "name",
    "shop_domain",
    "api_version",
    "sales_channel",
    "api_base",
    "sync_interval_hours",
    "is_active",
)


@transaction.atomic
def update_connection(
    connection: ShopifyConnection,
    *,
    actor: Actor,
    access_token: str = "",
    webhook_secret: str = "",
    **changes: Any,
) -> ShopifyConnection:
    """Change settings; a blank token or secret keeps the stored one.

    On a connection whose app was uninstalled, entering an access token reinstalls it: active
    again, `uninstalled_at` cleared (audited as shopify.reinstalled). Turning it back on without
    a token is refused: the old token stopped working when the app was removed."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ShopifySettingsError(sorted(unknown)[0], "cannot be changed")
    connection = ShopifyConnection.objects.select_for_update().get(pk=connection.pk)
    values = _clean_settings(connection.brand, changes, instance=connection)
    secrets = dict(connection.secrets)
    rotated = []
    entered_token = _check_secret("access_token", access_token, required=False)
    for field, value in (("access_token", entered_token), ("webhook_secret", webhook_secret)):
        value = _check_secret(field, value, required=False)
        if value and value != secrets.get(field):
            secrets[field] = value
            rotated.append(field)
    reinstalled = False
    uninstalled_at = connection.uninstalled_at
    if uninstalled_at is not None:
        if entered_token:
            values["is_active"] = True
            reinstalled = True
        elif values.get("is_active"):
            raise ShopifySettingsError(
                "access_token",
                "the app was uninstalled from the store: reinstall it in Shopify and enter its new access token",
            )
    changed = sorted(field for field, value in values.items() if getattr(connection, field) != value)
    for field, value in values.items():
        setattr(connection, field, value)
    connection.secrets = secrets
    if reinstalled:
        connection.uninstalled_at = None
        if connection.sync_status in SYNC_BUSY:
            connection.sync_status = ShopifyConnection.SyncStatus.NEVER
    connection.save()
    audit.record(actor, "shopify.updated", connection, fields=changed, rotated=rotated)
    if reinstalled and uninstalled_at is not None:
        audit.record(
            actor,
            "shopify.reinstalled",
            connection,
            shop_domain=connection.shop_domain,
            uninstalled_at=uninstalled_at.isoformat(),
        )
    return connection


def webhook_url(connection: ShopifyConnection) -> str:
    return f"{settings.BASE_URL}/webhooks/shopify/{connection.pk}"


def apply_uninstalled(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    """The store removed our app: its token is revoked. Keep every row, stop syncing, tell HQ."""
    locked = ShopifyConnection.objects.select_for_update().get(pk=connection.pk)
    if locked.uninstalled_at is not None:
        return Outcome(
            ShopifyWebhook.Status.IGNORED,
            f"already uninstalled at {locked.uninstalled_at.isoformat()}",
        )
    at = receipt.triggered_at or receipt.received_at or timezone.now()
    locked.uninstalled_at = at
    locked.is_active = False
    update_fields = ["uninstalled_at", "is_active", "updated_at"]
    if locked.sync_status in SYNC_BUSY:
        # A queued sync must not start with a revoked token; a running one fails on its own.
        locked.sync_status = ShopifyConnection.SyncStatus.FAILED
        locked.sync_error = "app: uninstalled from the store"
        update_fields += ["sync_status", "sync_error"]
    locked.save(update_fields=update_fields)
    shop = receipt.payload.get("myshopify_domain") or receipt.payload.get("domain") or ""
    audit.record(
        Actor.system(connection.brand),
        "shopify.uninstalled",
        locked,
        shop_domain=locked.shop_domain,
        reported_shop=str(shop)[:255],
        webhook_id=receipt.webhook_id,
        uninstalled_at=at.isoformat(),
    )
    return Outcome(
        ShopifyWebhook.Status.PROCESSED,
        f"the app was uninstalled from {locked.shop_domain} at {at.isoformat()}: connection inactive, "
        "product sync stopped, data kept",
    )
