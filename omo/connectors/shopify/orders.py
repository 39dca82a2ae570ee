"""orders/create|paid|updated|cancelled → the idempotent order ingest (source "shopify", the Shopify
order id as external id), then paid / fulfilled / cancelled as the order moves on; refunds/create →
a refund, which waits for its order when it arrives first.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.connectors.models import ShopifyConnection, ShopifyRecord, ShopifyWebhook
from omo.connectors.shopify import mapping
from omo.connectors.shopify.customers import (
    attach_shopify_identity,
    customer_by_shopify_id,
    fill_missing_contact,
    record_marketing_consent,
    time_or_none,
    usable_contact,
)
from omo.connectors.shopify.records import Outcome, is_older, locked_record, stale
from omo.connectors.shopify.webhooks import enqueue_processing
from omo.core.models import Brand


def _order_customer(brand: Brand, contact: mapping.ShopifyContact, notes: list[str]) -> dict[str, str] | None:
    phone, email = usable_contact(brand, contact, notes)
    known = customer_by_shopify_id(brand.pk, contact.shopify_customer_id)
    if known is not None and known.erased_at is None:
        known = fill_missing_contact(known, phone, email, notes)
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


def apply_order(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
    brand = connection.brand
    document = receipt.payload
    shopify_order_id = mapping.shopify_id(document)
    updated_at = mapping.timestamp(document, "updated_at")
    record = locked_record(connection, ShopifyRecord.Kind.ORDER, shopify_order_id)
    if is_older(updated_at, record.updated_at):
        return stale("order", shopify_order_id, updated_at, record.updated_at)
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
        if order.customer is not None:
            attach_shopify_identity(order.customer, contact.shopify_customer_id, notes)
        record.extra = {"line_items": mapping.line_item_ids(document)}
    else:
        order = existing
        notes.append(_advance(order, target, document))
        if not record.extra.get("line_items"):
            record.extra = {"line_items": mapping.line_item_ids(document)}
    customer_document = document.get("customer")
    if order.customer is not None and isinstance(customer_document, dict):
        record_marketing_consent(
            order.customer,
            customer_document,
            fallback_at=time_or_none(customer_document, "updated_at"),
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
        enqueue_processing(waiting)


def apply_refund(connection: ShopifyConnection, receipt: ShopifyWebhook) -> Outcome:
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
