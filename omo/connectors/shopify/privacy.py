"""Shopify's mandatory privacy topics: customers/data_request, customers/redact and shop/redact
become a PrivacyRequest for HQ; customers/redact erases the customer through
omo.customers.privacy.erase_customer (if that fails, the request stays open for HQ).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from omo.connectors.models import PrivacyRequest, ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify import mapping
from omo.connectors.shopify.connections import ShopifySettingsError
from omo.connectors.shopify.customers import customer_by_shopify_id, usable_contact
from omo.connectors.shopify.records import Outcome
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import privacy
from omo.customers import services as customer_services
from omo.customers.models import Customer

logger = logging.getLogger(__name__)


def _privacy_customer(brand: Brand, contact: mapping.ShopifyContact) -> Customer | None:
    customer = customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
    if customer is not None:
        return customer
    phone, email = usable_contact(brand, contact, [])
    return customer_services.find_customer(brand, phone=phone, email=email) if (phone or email) else None


def apply_privacy(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
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
    try:
        with transaction.atomic():
            privacy.erase_customer(
                customer,
                actor=Actor.system(customer.brand),
                reason=f"Shopify customers/redact (privacy request {request.pk})",
            )
    except Exception as exc:
        logger.exception("erasing customer %s for Shopify failed", customer.pk)
        return f"HQ: automatic erasure of customer {customer.pk} failed ({exc}); erase by hand."
    request.status = PrivacyRequest.Status.DONE
    request.resolved_at = timezone.now()
    return f"Customer {customer.pk} erased."


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
