"""Shopify verbs: connect a store, accept its webhooks, process them, sync its products.

Inbound webhooks follow verify → record → acknowledge → process: `accept_webhook` checks the HMAC on
the raw body, stores one ShopifyWebhook row (unique per delivery id and per topic + event id, so
retries and the copies of one event are no-ops) with its processing task in the same transaction,
and the view answers 200. `process_webhook` (a task) then applies it:

- orders/create|paid|updated|cancelled → the idempotent order ingest (source "shopify", the Shopify
  order id as external id), then paid / fulfilled / cancelled as the order moves on;
- refunds/create → a refund (waits for its order when it arrives first);
- customers/create|update → a customer matched by Shopify id, email or phone, with a `shopify`
  identity; products/create|update → the catalogue (products by handle, variants by SKU);
- customers/data_request, customers/redact, shop/redact → a PrivacyRequest for HQ (customers/redact
  erases the customer through omo.customers.privacy.erase_customer when that exists);
- app/uninstalled → the connection is marked uninstalled (data kept, syncing stopped). Later
  deliveries are still verified and stored, but only the privacy topics are processed (Shopify sends
  shop/redact 48 hours after an uninstall); HQ entering a new access token reinstalls.

Customers (and the customer inside an order) also carry Shopify's email/SMS marketing consent,
recorded into omo.customers.consent with source "shopify" at Shopify's `consent_updated_at`.

Products are also re-synced on a schedule (`sync_due_products`, every few minutes from
omo.core.schedule): each active connection every `sync_interval_hours`, never two syncs at once.

Every order, customer and product keeps the `updated_at` we last applied (ShopifyRecord), so an
older delivery that arrives after a newer one changes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib
import inspect
import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db import connection as db_connection
from django.utils import timezone

from omo.catalog import services as catalog
from omo.catalog.models import Product, Variant
from omo.catalog.services import CatalogError
from omo.commerce import services as commerce
from omo.commerce.models import Order, SalesChannel
from omo.commerce.services import OrderError
from omo.connectors import mapping
from omo.connectors.client import GraphQLClient, ShopifyApiError, api_base
from omo.connectors.mapping import MappingError, ProductSpec
from omo.connectors.models import (
    MAX_SYNC_INTERVAL_HOURS,
    PrivacyRequest,
    ShopifyConnection,
    ShopifyRecord,
    ShopifyWebhook,
)
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import consent as customer_consent
from omo.customers import services as customer_services
from omo.customers.models import Customer, CustomerIdentity
from omo.customers.services import CustomerError

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 2 * 1024 * 1024
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
API_VERSION = re.compile(r"^(20[2-9][0-9]-(01|04|07|10)|unstable)$")
ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")
CUSTOMER_TOPICS = ("customers/create", "customers/update")
PRODUCT_TOPICS = ("products/create", "products/update")
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
UNINSTALLED_TOPIC = "app/uninstalled"
TOPICS = (
    *ORDER_TOPICS,
    "refunds/create",
    *CUSTOMER_TOPICS,
    *PRODUCT_TOPICS,
    UNINSTALLED_TOPIC,
    *PRIVACY_TOPICS,
)
# A queued or running sync whose worker has not finished within this time is taken as lost.
SYNC_STALE_AFTER = dt.timedelta(hours=3)
SYNC_BUSY = (ShopifyConnection.SyncStatus.QUEUED, ShopifyConnection.SyncStatus.RUNNING)


class ShopifySettingsError(ValueError):
    """A refused connection setting, naming the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- connections ----------------------------------------------------------------------------------------------


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
    secrets = {
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
    if reinstalled:
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


# --- receiving webhooks ---------------------------------------------------------------------------------------


class WebhookRefused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def signature_matches(secret: str, raw_body: bytes, header: str) -> bool:
    """`X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(secret, raw body)); compared in constant time."""
    if not secret or not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.strip().encode("latin-1", "replace"))


@dataclass(frozen=True)
class Accepted:
    receipt_id: int
    duplicate: bool


def _order_ref_of(topic: str, document: dict[str, Any]) -> str:
    if topic in ORDER_TOPICS:
        value = document.get("id")
    elif topic == "refunds/create":
        value = document.get("order_id")
    else:
        return ""
    return str(value) if value not in (None, "") else ""


def accept_webhook(connection_id: int, *, headers: Any, raw_body: bytes) -> Accepted:
    """Verify and store one delivery (with its processing task). WebhookRefused says why not.

    `headers` is any case-insensitive mapping (Django's request.headers)."""
    # An uninstalled connection still receives: Shopify sends shop/redact 48 hours after an
    # uninstall, and what arrives is kept for HQ. One HQ switched off receives nothing.
    connection = (
        ShopifyConnection.objects.filter(pk=connection_id)
        .filter(models.Q(is_active=True) | models.Q(uninstalled_at__isnull=False))
        .first()
    )
    if connection is None:
        raise WebhookRefused(404, "unknown_connection", "no active Shopify connection with this id")
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise WebhookRefused(413, "payload_too_large", f"the body is larger than {MAX_WEBHOOK_BYTES} bytes")
    if not signature_matches(
        connection.secrets.get("webhook_secret", ""), raw_body, headers.get("X-Shopify-Hmac-Sha256", "")
    ):
        raise WebhookRefused(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body")
    topic = (headers.get("X-Shopify-Topic") or "").strip()
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()
    event_id = (headers.get("X-Shopify-Event-Id") or "").strip()
    if not topic:
        raise WebhookRefused(400, "missing_header", "X-Shopify-Topic is required")
    if not webhook_id or len(webhook_id) > 100:
        raise WebhookRefused(
            400, "missing_header", "X-Shopify-Webhook-Id is required (at most 100 characters)"
        )
    if len(event_id) > 100:
        raise WebhookRefused(400, "bad_header", "X-Shopify-Event-Id is longer than 100 characters")
    domain = (headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    if domain and domain != connection.shop_domain:
        raise WebhookRefused(
            400, "wrong_shop", f"X-Shopify-Shop-Domain {domain} is not {connection.shop_domain}"
        )
    try:
        document = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRefused(400, "malformed", f"body is not JSON: {exc}"[:200]) from exc
    if not isinstance(document, dict):
        raise WebhookRefused(400, "malformed", "body must be a JSON object")
    triggered = (
        mapping.timestamp({"t": headers.get("X-Shopify-Triggered-At")}, "t")
        if headers.get("X-Shopify-Triggered-At")
        else None
    )
    status, note = _initial_status(connection, topic)
    with transaction.atomic():
        try:
            with transaction.atomic():
                receipt = ShopifyWebhook.objects.create(
                    brand_id=connection.brand_id,
                    connection=connection,
                    webhook_id=webhook_id,
                    event_id=event_id,
                    topic=topic[:60],
                    api_version=(headers.get("X-Shopify-API-Version") or "")[:20],
                    triggered_at=triggered,
                    order_ref=_order_ref_of(topic, document)[:40],
                    payload=document,
                    status=status,
                    note=note,
                )
        except IntegrityError:
            same = ShopifyWebhook.objects.filter(connection=connection, webhook_id=webhook_id)
            if event_id:
                same = same | ShopifyWebhook.objects.filter(
                    connection=connection, topic=topic, event_id=event_id
                )
            first = same.order_by("id").first()
            if first is None:
                raise
            return Accepted(first.pk, True)
        if receipt.status == ShopifyWebhook.Status.PENDING:
            _enqueue([receipt.pk])
    return Accepted(receipt.pk, False)


def _initial_status(connection: ShopifyConnection, topic: str) -> tuple[str, str]:
    if topic not in TOPICS:
        return ShopifyWebhook.Status.IGNORED, f"topic {topic} is not handled"
    if connection.uninstalled_at is not None and topic not in PRIVACY_TOPICS:
        return ShopifyWebhook.Status.IGNORED, (
            f"not processed: the app was uninstalled from {connection.shop_domain} at "
            f"{connection.uninstalled_at.isoformat()}; kept for reference. Reinstall the app and "
            "enter its new access token in the console to process deliveries again."
        )
    return ShopifyWebhook.Status.PENDING, ""


def _enqueue(receipt_ids: list[int]) -> None:
    """Schedule processing. With the database queue the task row joins the caller's transaction
    (durable with the receipt); other backends enqueue after commit (an immediate backend would
    otherwise run the task before the webhook is answered)."""
    from omo.connectors.tasks import process_shopify_webhook

    if not receipt_ids:
        return
    backend = process_shopify_webhook.get_backend()
    if type(backend).__module__.startswith("django_tasks_db"):
        for receipt_id in receipt_ids:
            process_shopify_webhook.enqueue(receipt_id)
        return
    transaction.on_commit(lambda: [process_shopify_webhook.enqueue(i) for i in receipt_ids])


# --- processing -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    note: str = ""


def _claim(receipt_id: int) -> ShopifyWebhook | None:
    rows = ShopifyWebhook.objects.select_related("connection__brand").filter(
        pk=receipt_id, status=ShopifyWebhook.Status.PENDING
    )
    if db_connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows.first()


def process_webhook(receipt_id: int) -> str:
    """Apply one pending delivery; returns its new status ("skipped" when not pending or taken)."""
    with transaction.atomic():
        receipt = _claim(receipt_id)
        if receipt is None:
            return "skipped"
        handler = HANDLERS.get(receipt.topic)
        try:
            with transaction.atomic():
                outcome = (
                    handler(receipt.connection, receipt)
                    if handler
                    else Outcome("ignored", "topic not handled")
                )
        except (MappingError, OrderError, CatalogError, CustomerError) as exc:
            outcome = Outcome(ShopifyWebhook.Status.FAILED, f"{exc.field}: {exc.message}")
        except Exception:
            logger.exception("processing Shopify webhook %s failed", receipt_id)
            outcome = Outcome(ShopifyWebhook.Status.FAILED, traceback.format_exc()[-3000:])
        receipt.status = outcome.status
        receipt.note = outcome.note[:4000]
        receipt.processed_at = timezone.now() if outcome.status != ShopifyWebhook.Status.WAITING else None
        receipt.save(update_fields=["status", "note", "processed_at"])
        return outcome.status


def process_pending(connection: ShopifyConnection) -> dict[str, int]:
    """Process every pending delivery of a connection, oldest first, including refunds an order
    woke up on the way (the console's "retry", the command line, tests)."""
    counts: dict[str, int] = {}
    for _ in range(10):
        ids = list(
            ShopifyWebhook.objects.filter(connection=connection, status=ShopifyWebhook.Status.PENDING)
            .order_by("id")
            .values_list("pk", flat=True)
        )
        if not ids:
            break
        for receipt_id in ids:
            status = process_webhook(receipt_id)
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def retry_failed(connection: ShopifyConnection, *, actor: Actor) -> int:
    ids = list(
        ShopifyWebhook.objects.filter(connection=connection, status=ShopifyWebhook.Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    ShopifyWebhook.objects.filter(pk__in=ids).update(
        status=ShopifyWebhook.Status.PENDING, note="", processed_at=None
    )
    _enqueue(ids)
    if ids:
        audit.record(actor, "shopify.webhooks_retried", connection, count=len(ids))
    return len(ids)


def _record(connection: ShopifyConnection, kind: str, shopify_id: str) -> ShopifyRecord:
    """The record row for this Shopify object, locked for the rest of the transaction."""
    record, _ = ShopifyRecord.objects.get_or_create(
        connection=connection, kind=kind, shopify_id=shopify_id, defaults={"brand_id": connection.brand_id}
    )
    return ShopifyRecord.objects.select_for_update().get(pk=record.pk)


def _older(incoming: Any, applied: Any) -> bool:
    return incoming is not None and applied is not None and incoming < applied


def _stale(kind: str, shopify_id: str, incoming: Any, applied: Any) -> Outcome:
    return Outcome(
        ShopifyWebhook.Status.IGNORED,
        f"stale: {kind} {shopify_id} updated_at {incoming.isoformat()} is older than the applied {applied.isoformat()}",
    )


# customers


def _customer_by_shopify_id(brand_id: int, shopify_customer_id: str) -> Customer | None:
    if not shopify_customer_id:
        return None
    identity = (
        CustomerIdentity.objects.select_related("customer")
        .filter(brand_id=brand_id, kind=CustomerIdentity.Kind.SHOPIFY, value=shopify_customer_id)
        .first()
    )
    return identity.customer if identity is not None else None


def _clean(brand: Brand, contact: mapping.ShopifyContact, notes: list[str]) -> tuple[str, str]:
    """Normalised phone and email; an unusable value is dropped with a note, not a lost order."""
    phone = email = ""
    try:
        phone, _ = customer_services.clean_contact(brand, phone=contact.phone)
    except CustomerError as exc:
        notes.append(f"phone {contact.phone!r} ignored: {exc.message}")
    try:
        _, email = customer_services.clean_contact(brand, email=contact.email)
    except CustomerError as exc:
        notes.append(f"email {contact.email!r} ignored: {exc.message}")
    return phone, email


def _owner(brand: Brand, kind: str, value: str) -> int | None:
    return (
        CustomerIdentity.objects.filter(brand=brand, kind=kind, value=value)
        .values_list("customer_id", flat=True)
        .first()
    )


def _attach_shopify_identity(customer: Customer, shopify_customer_id: str, notes: list[str]) -> None:
    if not shopify_customer_id:
        return
    owner = _owner(customer.brand, CustomerIdentity.Kind.SHOPIFY, shopify_customer_id)
    if owner == customer.pk:
        return
    if owner is not None:
        notes.append(f"Shopify customer {shopify_customer_id} already belongs to customer {owner}")
        return
    try:
        with transaction.atomic():
            CustomerIdentity.objects.create(
                brand_id=customer.brand_id,
                customer=customer,
                kind=CustomerIdentity.Kind.SHOPIFY,
                value=shopify_customer_id,
                verified=False,
                source="shopify",
            )
    except IntegrityError:
        notes.append(f"Shopify customer {shopify_customer_id} was linked concurrently")


def _fill_missing_contact(customer: Customer, phone: str, email: str, notes: list[str]) -> Customer:
    """Give a customer known only by Shopify id the phone/email Shopify now sends, when nobody holds them."""
    changes = {}
    if phone and not customer.phone and _owner(customer.brand, CustomerIdentity.Kind.PHONE, phone) is None:
        changes["phone"] = phone
    if email and not customer.email and _owner(customer.brand, CustomerIdentity.Kind.EMAIL, email) is None:
        changes["email"] = email
    if changes:
        customer = customer_services.update_customer(customer, actor=Actor.system(customer.brand), **changes)
        notes.append("added " + ", ".join(sorted(changes)) + " to the customer")
    return customer


def _apply_customer(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    contact = mapping.customer_fields(document)
    updated_at = mapping.timestamp(document, "updated_at")
    record = _record(connection, ShopifyRecord.Kind.CUSTOMER, contact.shopify_customer_id)
    if _older(updated_at, record.updated_at):
        return _stale("customer", contact.shopify_customer_id, updated_at, record.updated_at)
    notes: list[str] = []
    phone, email = _clean(brand, contact, notes)
    customer = _customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
    if customer is not None and customer.erased_at is not None:
        return Outcome(
            ShopifyWebhook.Status.IGNORED, f"customer {customer.pk} was erased; profile not updated"
        )
    if customer is None:
        customer, created = customer_services.get_or_create_customer(
            brand, actor=None, name=contact.name, phone=phone, email=email, source="shopify"
        )
        if customer is None:
            customer = customer_services.create_customer(
                brand, actor=None, name=contact.name, source="shopify"
            )
            created = True
        notes.append(f"{'created' if created else 'matched'} customer {customer.pk}")
        _attach_shopify_identity(customer, contact.shopify_customer_id, notes)
    else:
        changes: dict[str, str] = {}
        if contact.name and contact.name != customer.name:
            changes["name"] = contact.name
        if (
            email
            and email != customer.email
            and _owner(brand, CustomerIdentity.Kind.EMAIL, email) in (None, customer.pk)
        ):
            changes["email"] = email
        if (
            phone
            and phone != customer.phone
            and _owner(brand, CustomerIdentity.Kind.PHONE, phone) in (None, customer.pk)
        ):
            changes["phone"] = phone
        if changes:
            customer_services.update_customer(customer, actor=Actor.system(brand), **changes)
            notes.append(f"updated {', '.join(sorted(changes))} of customer {customer.pk}")
        else:
            notes.append(f"customer {customer.pk} unchanged")
    _record_marketing_consent(customer, document, fallback_at=updated_at, notes=notes)
    record.updated_at = updated_at or record.updated_at
    record.local_id = customer.pk
    record.save(update_fields=["updated_at", "local_id"])
    return Outcome(ShopifyWebhook.Status.PROCESSED, "; ".join(notes))


def _time_or_none(document: dict[str, Any], key: str) -> dt.datetime | None:
    try:
        return mapping.timestamp(document, key)
    except MappingError:
        return None


def _record_marketing_consent(
    customer: Customer, document: dict[str, Any], *, fallback_at: dt.datetime | None, notes: list[str]
) -> None:
    """Shopify's email/SMS marketing consent into the consent ledger (source "shopify").

    The time is Shopify's `consent_updated_at`, or the customer's `updated_at` when it is missing
    (Shopify then dates the consent when it was sent). A decision no newer than what is known for
    that customer × platform × marketing is not recorded; "not_subscribed" without a date is no
    decision at all."""
    if customer.erased_at is not None:
        return
    found, problems = mapping.marketing_consents(document)
    notes.extend(f"{problem}; consent not recorded" for problem in problems)
    for decision in found:
        at = decision.updated_at or fallback_at
        if at is None or (decision.updated_at is None and decision.state in mapping.UNDATED_NON_DECISIONS):
            continue
        row = customer_consent.record_consent(
            customer,
            platform=decision.platform,
            purpose=customer_consent.MARKETING,
            granted=decision.granted,
            source=mapping.SOURCE,
            note=decision.note,
            at=at,
            only_if_newer=True,
        )
        if row is not None:
            notes.append(
                f"{decision.platform} marketing consent {'granted' if decision.granted else 'not granted'} "
                f"({decision.state}, {at.isoformat()})"
            )


# orders


def _order_customer(brand: Brand, contact: mapping.ShopifyContact, notes: list[str]) -> dict[str, str] | None:
    phone, email = _clean(brand, contact, notes)
    known = _customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
    if known is not None and known.erased_at is None:
        known = _fill_missing_contact(known, phone, email, notes)
        if known.phone or known.email or known.member_number:
            # The customer's own identifiers, so the ingest finds exactly this customer.
            return {
                "name": known.name,
                "phone": known.phone,
                "email": known.email,
                "member_number": known.member_number,
            }
        notes.append(f"customer {known.pk} has no phone or email: order recorded without a customer")
        return None
    if not (phone or email):
        return None
    return {"name": contact.name, "phone": phone, "email": email, "member_number": ""}


def _advance(order: Order, target: str, document: dict[str, Any]) -> str:
    """Move a recorded order along (paid, fulfilled, cancelled); the note says what happened."""
    current = order.status
    if target == "cancelled":
        if current in (Order.Status.PLACED, Order.Status.PAID):
            commerce.cancel(order, actor=None, reason=str(document.get("cancel_reason") or "")[:200])
            return f"order {order.pk} cancelled"
        if current == Order.Status.CANCELLED:
            return f"order {order.pk} already cancelled"
        return f"order {order.pk} is {current}: not cancelled here (refunds arrive as refunds/create)"
    if target in ("paid", "fulfilled") and current == Order.Status.PLACED:
        order = commerce.mark_paid(
            order, actor=None, at=mapping.timestamp(document, "processed_at") or timezone.now()
        )
        current = order.status
        if target == "paid":
            return f"order {order.pk} paid"
    if target == "fulfilled" and current == Order.Status.PAID:
        commerce.fulfil(order, actor=None)
        return f"order {order.pk} fulfilled"
    return f"order {order.pk} unchanged ({current})"


def _apply_order(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    shopify_order_id = mapping.shopify_id(document)
    updated_at = mapping.timestamp(document, "updated_at")
    record = _record(connection, ShopifyRecord.Kind.ORDER, shopify_order_id)
    if _older(updated_at, record.updated_at):
        return _stale("order", shopify_order_id, updated_at, record.updated_at)
    notes: list[str] = []
    target = mapping.order_status(document)
    existing = Order.objects.filter(brand=brand, source=mapping.SOURCE, external_id=shopify_order_id).first()
    if existing is None:
        contact = mapping.order_contact(document)
        data = mapping.order_in(
            document, sales_channel=connection.sales_channel, customer=_order_customer(brand, contact, notes)
        )
        order, created = commerce.record_order(brand, data, actor=None)
        notes.insert(0, f"order {order.pk} {'recorded' if created else 'already recorded'}")
        if order.customer_id is not None:
            _attach_shopify_identity(order.customer, contact.shopify_customer_id, notes)
        record.extra = {"line_items": mapping.line_item_ids(document)}
    else:
        order = existing
        notes.append(_advance(order, target, document))
        if not record.extra.get("line_items"):
            record.extra = {"line_items": mapping.line_item_ids(document)}
    customer_document = document.get("customer")
    if order.customer_id is not None and isinstance(customer_document, dict):
        _record_marketing_consent(
            order.customer,
            customer_document,
            fallback_at=_time_or_none(customer_document, "updated_at"),
            notes=notes,
        )
    record.updated_at = updated_at or record.updated_at
    record.local_id = order.pk
    record.save(update_fields=["updated_at", "local_id", "extra"])
    _wake_waiting_refunds(connection, shopify_order_id)
    return Outcome(ShopifyWebhook.Status.PROCESSED, "; ".join(notes))


def _wake_waiting_refunds(connection: ShopifyConnection, shopify_order_id: str) -> None:
    waiting = list(
        ShopifyWebhook.objects.filter(
            connection=connection, status=ShopifyWebhook.Status.WAITING, order_ref=shopify_order_id
        ).values_list("pk", flat=True)
    )
    if waiting:
        ShopifyWebhook.objects.filter(pk__in=waiting).update(status=ShopifyWebhook.Status.PENDING)
        _enqueue(waiting)


def _apply_refund(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    mapping.shopify_id(document)
    shopify_order_id = mapping.shopify_id(document, "order_id")
    order = Order.objects.filter(brand=brand, source=mapping.SOURCE, external_id=shopify_order_id).first()
    if order is None:
        return Outcome(
            ShopifyWebhook.Status.WAITING,
            f"order {shopify_order_id} not recorded yet; applied when it arrives",
        )
    record = ShopifyRecord.objects.filter(
        connection=connection, kind=ShopifyRecord.Kind.ORDER, shopify_id=shopify_order_id
    ).first()
    shopify_lines = (record.extra.get("line_items") if record is not None else None) or []
    our_lines = list(order.lines.order_by("id").values_list("pk", flat=True))
    line_ids = {
        shopify_line: our_line for shopify_line, our_line in zip(shopify_lines, our_lines, strict=False)
    }
    data = mapping.refund_in(document, currency=order.currency, line_ids=line_ids)
    if data is None:
        return Outcome(ShopifyWebhook.Status.IGNORED, "no money refunded (restock or adjustment only)")
    refund, created = commerce.refund(order, data, actor=None)
    return Outcome(
        ShopifyWebhook.Status.PROCESSED,
        f"refund {refund.pk} of {refund.amount} on order {order.pk} {'recorded' if created else 'already recorded'}",
    )


# products


def _apply_product_webhook(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
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
    record = _record(connection, ShopifyRecord.Kind.PRODUCT, spec.shopify_id)
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


# privacy (mandatory compliance topics)


def _eraser() -> Callable[..., Any] | None:
    """omo.customers.privacy.erase_customer when it exists in this installation."""
    try:
        module = importlib.import_module("omo.customers.privacy")
    except ImportError:
        return None
    return getattr(module, "erase_customer", None)


def _privacy_customer(brand: Brand, contact: mapping.ShopifyContact) -> Customer | None:
    customer = _customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
    if customer is not None:
        return customer
    phone, email = _clean(brand, contact, [])
    return customer_services.find_customer(brand, phone=phone, email=email) if (phone or email) else None


def _apply_privacy(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    customer_doc = document.get("customer") or {}
    raw_id = customer_doc.get("id")
    contact = mapping.ShopifyContact(
        shopify_customer_id=str(raw_id) if raw_id not in (None, "") else "",
        name="",
        email=str(customer_doc.get("email") or ""),
        phone=str(customer_doc.get("phone") or ""),
    )
    customer = _privacy_customer(brand, contact) if receipt.topic != "shop/redact" else None
    request = PrivacyRequest.objects.create(
        brand_id=brand.pk,
        connection=connection,
        webhook=receipt,
        kind=receipt.topic,
        shopify_customer_id=contact.shopify_customer_id[:40],
        email=contact.email[:254],
        phone=contact.phone[:40],
        customer=customer,
    )
    if receipt.topic == "customers/data_request":
        request.outcome = "HQ: send this customer's data to the store owner (customer 360 export)."
    elif receipt.topic == "shop/redact":
        request.outcome = (
            f"HQ: the store {connection.shop_domain} asked to delete its data 48 hours after uninstalling."
        )
    elif customer is None:
        request.status = PrivacyRequest.Status.DONE
        request.resolved_at = timezone.now()
        request.outcome = "No matching customer in omo: nothing to erase."
    elif customer.erased_at is not None:
        request.status = PrivacyRequest.Status.DONE
        request.resolved_at = timezone.now()
        request.outcome = f"Customer {customer.pk} was already erased."
    else:
        request.outcome = _erase(customer, request)
    request.save(update_fields=["status", "outcome", "resolved_at"])
    return Outcome(ShopifyWebhook.Status.PROCESSED, f"privacy request {request.pk}: {request.outcome}")


def _erase(customer: Customer, request: PrivacyRequest) -> str:
    erase = _eraser()
    if erase is None:
        return f"HQ: erase customer {customer.pk} (automatic erasure is not available in this installation)."
    parameters = inspect.signature(erase).parameters
    options: dict[str, Any] = {}
    if "actor" in parameters:
        options["actor"] = Actor.system(customer.brand)
    if "reason" in parameters:
        options["reason"] = f"Shopify customers/redact (privacy request {request.pk})"
    try:
        with transaction.atomic():
            erase(customer, **options)
    except Exception as exc:
        logger.exception("erasing customer %s for Shopify failed", customer.pk)
        return f"HQ: automatic erasure of customer {customer.pk} failed ({exc}); erase by hand."
    request.status = PrivacyRequest.Status.DONE
    request.resolved_at = timezone.now()
    return f"Customer {customer.pk} erased."


# app/uninstalled


def _apply_uninstalled(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
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


HANDLERS: dict[str, Callable[[ShopifyConnection, ShopifyWebhook], Outcome]] = {
    **{topic: _apply_order for topic in ORDER_TOPICS},
    "refunds/create": _apply_refund,
    **{topic: _apply_customer for topic in CUSTOMER_TOPICS},
    **{topic: _apply_product_webhook for topic in PRODUCT_TOPICS},
    **{topic: _apply_privacy for topic in PRIVACY_TOPICS},
    UNINSTALLED_TOPIC: _apply_uninstalled,
}


@transaction.atomic
def resolve_privacy_request(request: PrivacyRequest, *, actor: Actor, outcome: str) -> PrivacyRequest:
    request = PrivacyRequest.objects.select_for_update().get(pk=request.pk)
    outcome = (outcome or "").strip()
    if not outcome:
        raise ShopifySettingsError("outcome", "say what was done")
    request.status = PrivacyRequest.Status.DONE
    request.resolved_at = timezone.now()
    request.outcome = outcome[:2000]
    request.save(update_fields=["status", "resolved_at", "outcome"])
    audit.record(actor, "shopify.privacy_resolved", request, kind=request.kind)
    return request


# --- product sync through the GraphQL Admin API ---------------------------------------------------------------


def client_for(connection: ShopifyConnection, **options: Any) -> GraphQLClient:
    return GraphQLClient(
        base=api_base(connection.shop_domain, connection.api_base),
        api_version=connection.api_version,
        access_token=connection.secrets.get("access_token", ""),
        **options,
    )


class SyncRefused(Exception):
    """A sync that may not start: the app is uninstalled (code "uninstalled") or one is already
    queued or running (code "busy")."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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
