"""What the inbox holds about a person: chat contacts, conversations, messages and webhook receipts.

Erasure: contacts lose their platform id (a new message starts a new, unknown customer), messages
stay as rows (conversation counts and delivery history add up) without their text, payload and
media, and webhook receipts keep their row without the raw body, so a platform's redelivery of an
old event stays a no-op and cannot bring the data back. Staff-only notes are the brand's, not the
person's, and are not exported.

Merge: two conversations on the same inbox become one (the merged one's messages move into the
survivor's; the empty thread stays with the merged customer until a split).
Retention: receipts older than the brand's receipt period are deleted, unless still waiting.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction

from omo.core.models import Brand
from omo.customers import identity, personal_data, registry
from omo.customers.merge import dump, move, restore_fields
from omo.customers.models import Customer, CustomerSettings
from omo.customers.personal_data import (
    Erasure,
    Merge,
    Moves,
    PersonalDataHandler,
    Rows,
    Split,
    move_back,
    rows,
)
from omo.customers.retention import delete_in_chunks
from omo.customers.tasks import PLATFORM_KIND, chunks
from omo.inbox.models import Contact, Conversation, Message, WebhookReceipt


class InboxData(PersonalDataHandler):
    app_label = "inbox"
    order = 40
    holds = ("inbox.Contact", "inbox.Conversation")

    def moves(self) -> Moves:
        return ((Contact, "customer"),)

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        conversations = Conversation.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by(
            "id"
        )
        return {
            "contacts": rows(
                Contact.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by("id")
            ),
            "conversations": rows(conversations, exclude=("reply_token",)),
            "messages": rows(
                Message.objects.filter(brand_id=brand_id, conversation__in=conversations)
                .exclude(direction=Message.Direction.INTERNAL)
                .order_by("created_at", "id"),
                exclude=("retry_key",),
            ),
        }

    def needles(self, brand_id: int, customer_ids: list[int]) -> list[str]:
        contacts = Contact.objects.filter(brand_id=brand_id, customer_id__in=customer_ids)
        return [value for row in contacts.values_list("external_user_id", "display_name") for value in row]

    def erase(self, erasure: Erasure) -> dict[str, int]:
        brand_id, ids, now = erasure.brand_id, erasure.customer_ids, erasure.now
        counts: dict[str, int] = {}
        contacts = Contact.objects.filter(brand_id=brand_id, customer_id__in=ids)
        by_inbox: dict[int, list[str]] = {}
        for pk, inbox_id, external_user_id in contacts.values_list("pk", "inbox_id", "external_user_id"):
            by_inbox.setdefault(inbox_id, []).append(external_user_id)
            Contact.objects.filter(pk=pk).update(external_user_id=f"erased-{pk}")
        counts["contacts"] = contacts.update(
            display_name="",
            picture_url="",
            language="",
            is_follower=False,
            blocked_at=now,
        )
        conversations = Conversation.objects.filter(brand_id=brand_id, customer_id__in=ids)
        conversations.update(last_message_preview="", reply_token="", reply_token_at=None)
        messages = Message.objects.filter(brand_id=brand_id, conversation__in=conversations)
        for message in messages.exclude(attachment="").only("pk", "attachment"):
            name = message.attachment.name or ""
            transaction.on_commit(functools.partial(message.attachment.storage.delete, name))
        counts["messages"] = messages.update(
            text="", payload={"erased": True}, attachment="", failure_reason=""
        )
        # Requests the edge stored whole under load were split into receipts before this runs
        # (omo/platforms/personal_data.py).
        receipts = 0
        for inbox_id, user_ids in by_inbox.items():
            receipts += WebhookReceipt.objects.filter(
                inbox_id=inbox_id, payload__source__userId__in=user_ids
            ).update(payload={"erased": True}, error="")
        counts["webhook_receipts"] = receipts
        return counts

    def merge(self, merge: Merge) -> None:
        brand, survivor, merged, snapshot = merge.brand, merge.survivor, merge.merged, merge.snapshot
        mine = {c.inbox_id: c for c in Conversation.objects.select_for_update().filter(customer=survivor)}
        moved, folded, changed = [], [], {}
        for theirs in (
            Conversation.objects.select_for_update().filter(brand=brand, customer=merged).order_by("pk")
        ):
            target = mine.get(theirs.inbox_id)
            if target is None:
                moved.append(theirs.pk)
                continue
            ids = move(Message, "conversation", brand.pk, theirs.pk, target.pk)
            folded.append([theirs.pk, target.pk, ids])
            after: dict[str, Any] = {
                "last_message_at": max(
                    (t for t in (target.last_message_at, theirs.last_message_at) if t is not None),
                    default=None,
                ),
                "unread_count": target.unread_count + theirs.unread_count,
                "waiting_since": min(
                    (t for t in (target.waiting_since, theirs.waiting_since) if t is not None), default=None
                ),
            }
            if theirs.last_message_at and (
                target.last_message_at is None or theirs.last_message_at > target.last_message_at
            ):
                after["last_message_preview"] = theirs.last_message_preview
            after = {k: v for k, v in after.items() if getattr(target, k) != v}
            if after:
                changed[str(target.pk)] = {k: [dump(getattr(target, k)), dump(v)] for k, v in after.items()}
                Conversation.objects.filter(pk=target.pk).update(**after)
                for k, v in after.items():
                    setattr(target, k, v)
        Conversation.objects.filter(pk__in=moved).update(customer=survivor)
        if moved:
            snapshot["moved"][Conversation._meta.label_lower] = moved
        if folded:
            snapshot["messages"] = folded
        if changed:
            snapshot["conversation_fields"] = changed

    def split(self, split: Split) -> None:
        split.put_back(Conversation)
        for from_conversation, to_conversation, ids in split.snapshot.get("messages", []):
            move_back(Message, ids, to_conversation, from_conversation, field="conversation")
        for pk, fields in split.snapshot.get("conversation_fields", {}).items():
            split.not_restored += [
                f"conversation {pk} {name}"
                for name in restore_fields(Conversation, int(pk), fields, only_if_unchanged=True)
            ]

    def purge(
        self, brand_id: int, *, retention: CustomerSettings, now: dt.datetime, chunk: int
    ) -> dict[str, int]:
        before = now - dt.timedelta(days=retention.receipt_retention_days)
        return {
            "webhook_receipts": delete_in_chunks(
                WebhookReceipt.objects.filter(inbox__brand_id=brand_id, received_at__lt=before).exclude(
                    status=WebhookReceipt.Status.PENDING
                ),
                chunk=chunk,
            )
        }


class ChatContactsOfInbox:
    """What consent and search read about a customer's chat contacts (omo/customers/registry.py)."""

    def reach(self, customer: Customer, platform: str) -> Sequence[Contact]:
        return list(
            Contact.objects.filter(
                brand_id=customer.brand_id, customer=customer, inbox__platform=platform
            ).only("id", "blocked_at", "is_follower")
        )

    def display_names(self, customer_ids: list[int]) -> dict[int, list[str]]:
        names: dict[int, list[str]] = defaultdict(list)
        found = (
            Contact.objects.filter(customer_id__in=customer_ids)
            .exclude(display_name="")
            .order_by("customer_id", "id")
            .values_list("customer_id", "display_name")
        )
        for customer_id, display_name in found:
            names[customer_id].append(display_name)
        return names

    def display_name_rows_sql(self) -> str:
        return f"SELECT customer_id, display_name, id FROM {Contact._meta.db_table}"


def contact_identifiers(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    """Chat contacts' platform user ids (verified: the platform vouches for them)."""
    qs = Contact.objects.filter(brand=brand)
    for found in chunks(qs, ("inbox__platform", "external_user_id", "customer_id"), chunk):
        yield [
            identity.Observation(
                [(PLATFORM_KIND[platform], external, True)], customer_id=customer_id, create=False
            )
            for _, platform, external, customer_id in found
            if platform in PLATFORM_KIND
        ]


def register() -> None:
    """Called once from InboxConfig.ready."""
    personal_data.register(InboxData())
    registry.register_chat_contacts(ChatContactsOfInbox())
    registry.register_identifier_source(registry.IdentifierSource("contacts", 20, contact_identifiers))
