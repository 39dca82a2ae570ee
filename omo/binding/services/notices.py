"""Telling a customer in chat that someone else serves them now (after a transfer or its undo).

The notice goes on LINE only: a LINE official account may push to a customer who follows it at any
time, while Messenger, Instagram and WhatsApp allow a business-started message only within 24 hours
of the customer's last message (docs/stores.md). It is a transactional message, so the outbound
path checks the customer's consent and reachability (omo.customers.consent.may_message) and a
refusal simply means the customer is not told. A push is billed against the LINE plan's quota.
"""

from __future__ import annotations

import logging

from django.db import transaction

from omo.binding import chat
from omo.core.errors import DomainError
from omo.customers.models import Customer
from omo.staff.models import Store, User

logger = logging.getLogger(__name__)


def _store_names(store: Store | None) -> tuple[str, str]:
    if store is None or not store.name:
        return "", ""
    return f"（{store.name}）", f" ({store.name_en or store.name})"


def transfer_notice(clerk: User) -> str:
    """The customer's new clerk, by name, zh-Hant first."""
    at_store, at_store_en = _store_names(clerk.store)
    return (
        f"您好！您的專屬店員已改由 {clerk}{at_store} 為您服務，之後的訊息都會由 {clerk} 回覆您。\n"
        f"Hello! Your personal clerk is now {clerk}{at_store_en}."
    )


def store_team_notice(store: Store) -> str:
    name_en = store.name_en or store.name
    return (
        f"您好！您的專屬店員已不再為您服務，之後將由 {store.name} 的門市團隊為您服務。\n"
        f"Hello! The team at {name_en} will help you from now on."
    )


def notify_customer(customer: Customer, text: str) -> bool:
    """Queue `text` to the customer on LINE (delivered after commit); False when they cannot be told."""
    conversation = chat.side().line_conversation(customer.brand_id, customer)
    if conversation is None:
        return False
    try:
        with transaction.atomic():  # a refusal leaves nothing half-written in the caller's transaction
            chat.side().send(conversation, kind="text", text=text, purpose="transactional")
    except DomainError as exc:  # no consent, unreachable: the customer is simply not told
        logger.info("binding notice to customer %s not sent: %s", customer.pk, exc)
        return False
    return True
