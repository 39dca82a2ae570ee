"""customers/create|update → a customer matched by Shopify id, email or phone, with a `shopify`
identity; the customer inside an order is matched the same way.

Customers also carry Shopify's email/SMS marketing consent, recorded into omo.customers.consent
with source "shopify" at Shopify's `consent_updated_at`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from omo.connectors.models import ShopifyConnection, ShopifyRecord, ShopifyWebhook
from omo.connectors.shopify import mapping
from omo.connectors.shopify.mapping import MappingError
from omo.connectors.shopify.records import Outcome, is_older, locked_record, stale
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import consent as customer_consent
from omo.customers import identity
from omo.customers import services as customer_services
from omo.customers.models import Customer, CustomerIdentity
from omo.customers.services import CustomerError


def customer_by_shopify_id(brand_id: int, shopify_customer_id: str) -> Customer | None:
    if not shopify_customer_id:
        return None
    return identity.holder(brand_id, CustomerIdentity.Kind.SHOPIFY, shopify_customer_id)


def usable_contact(brand: Brand, contact: mapping.ShopifyContact, notes: list[str]) -> tuple[str, str]:
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
    return identity.holder_id(brand.pk, kind, value)


def attach_shopify_identity(customer: Customer, shopify_customer_id: str, notes: list[str]) -> None:
    if not shopify_customer_id:
        return
    owner = identity.attach(customer, CustomerIdentity.Kind.SHOPIFY, shopify_customer_id, source="shopify")
    if owner != customer.pk:
        notes.append(f"Shopify customer {shopify_customer_id} already belongs to customer {owner}")


def fill_missing_contact(customer: Customer, phone: str, email: str, notes: list[str]) -> Customer:
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


def apply_customer(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    contact = mapping.customer_fields(document)
    updated_at = mapping.timestamp(document, "updated_at")
    record = locked_record(connection, ShopifyRecord.Kind.CUSTOMER, contact.shopify_customer_id)
    if is_older(updated_at, record.updated_at):
        return stale("customer", contact.shopify_customer_id, updated_at, record.updated_at)
    notes: list[str] = []
    phone, email = usable_contact(brand, contact, notes)
    customer = customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
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
        attach_shopify_identity(customer, contact.shopify_customer_id, notes)
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
    record_marketing_consent(customer, document, fallback_at=updated_at, notes=notes)
    record.updated_at = updated_at or record.updated_at
    record.local_id = customer.pk
    record.save(update_fields=["updated_at", "local_id"])
    return Outcome(ShopifyWebhook.Status.PROCESSED, "; ".join(notes))


def time_or_none(document: dict[str, Any], key: str) -> dt.datetime | None:
    try:
        return mapping.timestamp(document, key)
    except MappingError:
        return None


def record_marketing_consent(
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
