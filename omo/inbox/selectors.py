"""Conversation reads filtered by brand and by what the actor's role allows (a staff user is
turned into the one Actor, omo.staff.actors).

Scope, one rule for the clerk app, the console, the API and the sockets:
- clerk: conversations of their own bound customers or assigned to them; plus their store team's
  (conversations whose owning store is theirs) when InboxSettings.store_team_sees_clerk_customers;
- store manager: conversations owned by their store (bound to its clerks, or handed to the team);
- HQ admin / agent: every conversation of the brand.
Staff of another brand see nothing: every query starts from the user's brand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from omo.binding.selectors import open_binding_customer_ids
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.core.money import format_money
from omo.inbox.models import Conversation, Inbox, InboxSettings, Message, WebhookIntake, WebhookReceipt
from omo.staff.actors import actor_for_user
from omo.staff.models import User

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

# Who asks: an Actor (API, services), or a request's user (clerk app, console, sockets), which may
# be anonymous or not staff of any brand; those see nothing.
SignedIn = User | AnonymousUser | None
Viewer = Actor | SignedIn


def inbox_settings(brand_id: int) -> InboxSettings:
    return InboxSettings.objects.filter(brand_id=brand_id).first() or InboxSettings(brand_id=brand_id)


def _is_staff(user: SignedIn) -> TypeGuard[BrandStaff]:
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.brand_id
    )


def _actor(who: Viewer) -> Actor | None:
    """The actor behind a staff user or an Actor; None for anyone who is not active staff of a brand."""
    if isinstance(who, Actor):
        return who if who.user is None or _is_staff(who.user) else None
    return actor_for_user(who) if _is_staff(who) else None


def scope_filter(who: Actor | Any) -> Q | None:
    """The Q a conversation must match for this actor (brand applied separately); None = nothing."""
    actor = _actor(who)
    if actor is None:
        return None
    if actor.scope == Scope.BRAND:
        return Q()
    if actor.scope == Scope.STORE:
        return Q(store_id=actor.store_id) if actor.store_id else None
    if actor.scope == Scope.OWN and actor.user_id:
        allowed = Q(assignee_id=actor.user_id) | Q(
            customer_id__in=open_binding_customer_ids(actor.brand.pk, actor.user_id)
        )
        if actor.store_id and inbox_settings(actor.brand.pk).store_team_sees_clerk_customers:
            allowed |= Q(store_id=actor.store_id)
        return allowed
    return None


def visible_conversations(who: Viewer) -> QuerySet[Conversation]:
    """The brand's conversations this actor (or signed-in staff user) may see."""
    actor = _actor(who)
    condition = scope_filter(actor) if actor is not None else None
    if actor is None or condition is None:
        return Conversation.objects.none()
    return Conversation.objects.filter(condition, brand_id=actor.brand.pk)


def can_view(who: Viewer, conversation: Conversation) -> bool:
    actor = _actor(who)
    if actor is None or conversation.brand_id != actor.brand.pk:
        return False
    return visible_conversations(actor).filter(pk=conversation.pk).exists()


def get_conversation(who: Actor | Any, conversation_id: int) -> Conversation | None:
    """The conversation if this actor may see it, else None (callers answer 404: no existence leak)."""
    return (
        visible_conversations(who)
        .select_related("contact", "customer", "assignee", "store", "inbox")
        .filter(pk=conversation_id)
        .first()
    )


def with_updated_at(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Annotate `updated_at`: the latest entry of the conversation's timeline (a message, a note,
    an assignment, a close or reopen each write one), or its creation."""
    latest = (
        Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    )
    return conversations.annotate(updated_at=Coalesce(Subquery(latest), F("created_at")))


def customer_connection(actor: Actor) -> Q | None:
    """A store's customers include those of the conversations the store handles (registered with
    omo.customers.selectors). A clerk's do not: a conversation assigned to a clerk, or their store
    team's, shows its messages, while the customer's record stays with the bound clerk."""
    if actor.scope != Scope.STORE:
        return None
    conversations = visible_conversations(actor).filter(customer__isnull=False)
    return Q(pk__in=conversations.values("customer_id"))


def conversation_list(
    user: User | AnonymousUser,
    *,
    queue: str | None = None,
    mine: bool = False,
    status: str | None = Conversation.Status.OPEN,
    label: str | None = None,
    limit: int = 50,
    before: dt.datetime | None = None,
) -> list[Conversation]:
    """The user's conversation list, newest activity first (the clerk app's and console's inbox).

    `mine`: only assigned to the user; `queue`: clerk|store|hq; `before`: last_message_at cursor.
    """
    conversations = visible_conversations(user).select_related("contact", "customer", "assignee", "store")
    if queue:
        conversations = conversations.filter(queue=queue)
    if mine:
        conversations = conversations.filter(assignee_id=user.pk)
    if status:
        conversations = conversations.filter(status=status)
    if label:
        conversations = conversations.filter(labels__contains=[label]) if _json_contains() else conversations
    if before is not None:
        conversations = conversations.filter(last_message_at__lt=before)
    rows = list(conversations.order_by("-last_message_at", "-id")[: max(1, min(limit, 200))])
    if label and not _json_contains():
        rows = [c for c in rows if label in (c.labels or [])]
    return rows


def _json_contains() -> bool:
    from django.db import connection

    return connection.features.supports_json_field_contains


def timeline(conversation: Conversation, *, limit: int = 100, before_id: int | None = None) -> list[Message]:
    """The conversation's messages, oldest first, the latest `limit` (notes and events included)."""
    messages = Message.objects.filter(
        brand_id=conversation.brand_id, conversation=conversation
    ).select_related("sender")
    if before_id is not None:
        messages = messages.filter(id__lt=before_id)
    latest = list(messages.order_by("-created_at", "-id")[: max(1, min(limit, 500))])
    return list(reversed(latest))


def message_page(
    conversation: Conversation, *, limit: int, before: int | None = None, after: int | None = None
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in the order they were recorded (ascending id), and whether more lie
    beyond them: right after message `after` (newer ones beyond), else the latest ones before
    message `before` or of all (older ones beyond). Notes and events included."""
    messages = Message.objects.filter(
        brand_id=conversation.brand_id, conversation=conversation
    ).select_related("sender")
    if after is not None:
        rows = list(messages.filter(id__gt=after).order_by("id")[: limit + 1])
        return rows[:limit], len(rows) > limit
    if before is not None:
        messages = messages.filter(id__lt=before)
    rows = list(messages.order_by("-id")[: limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def unread_total(user: SignedIn) -> int:
    from django.db.models import Sum

    return (
        visible_conversations(user)
        .filter(status=Conversation.Status.OPEN)
        .aggregate(n=Sum("unread_count"))["n"]
        or 0
    )


def canned_replies(user: SignedIn) -> QuerySet:
    """Brand-wide canned replies plus the user's own."""
    from omo.inbox.models import CannedReply

    if not _is_staff(user):
        return CannedReply.objects.none()
    return CannedReply.objects.filter(Q(owner__isnull=True) | Q(owner_id=user.pk), brand_id=user.brand_id)


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    """The list row as the clerk app and sockets show it."""
    return {
        "id": conversation.pk,
        "customer_id": conversation.customer_id,
        "name": str(conversation.contact) if conversation.contact_id else "",
        "queue": conversation.queue,
        "assignee_id": conversation.assignee_id,
        "store_id": conversation.store_id,
        "status": conversation.status,
        "labels": list(conversation.labels or []),
        "unread_count": conversation.unread_count,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "last_message_preview": conversation.last_message_preview,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "sla_due_at": conversation.sla_due_at.isoformat() if conversation.sla_due_at else None,
    }


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "kind": message.kind,
        "text": message.text,
        "payload": message.payload or {},
        "status": message.status,
        "failure_reason": message.failure_reason,
        "sent_via": message.sent_via,
        "sender_id": message.sender_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "attachment_url": message.attachment.url if message.attachment else "",
    }


# What LINE shows on a product card's button when the card names none (the same default as
# omo.platforms.line.flex.DEFAULT_BUTTON_LABEL, which renders the card for the customer).
CARD_BUTTON_LABEL = "查看商品"


def product_cards(message: Message) -> list[dict[str, str]]:
    """The product cards of a card message as staff screens show them: image, name, price and
    the button's label, as the customer saw them. Empty for any other message."""
    if message.kind != Message.Kind.FLEX:
        return []
    cards = (message.payload or {}).get("cards")
    if not isinstance(cards, list):
        return []
    shown = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        price = card.get("price")
        shown.append(
            {
                "title": str(card.get("title") or ""),
                "price": format_money(int(price), str(card.get("currency") or "TWD"))
                if isinstance(price, int | float)
                else "",
                "image_url": str(card.get("image_url") or ""),
                "url": str(card.get("url") or ""),
                "button_label": str(card.get("button_label") or CARD_BUTTON_LABEL),
            }
        )
    return shown


# --- webhook receipts (the platforms' processing task) ----------------------------------------------


def inbox_to_process(inbox_id: int) -> tuple[Inbox, bool] | None:
    """The inbox with its brand, and whether the edge stored whole requests (intakes) that wait to
    be split into receipts: one query, so no extra round trip when there are none."""
    inbox = (
        Inbox.objects.select_related("brand")
        .annotate(
            has_intakes=Exists(WebhookIntake.objects.filter(inbox_id=OuterRef("pk"), failed_at__isnull=True))
        )
        .filter(pk=inbox_id)
        .first()
    )
    return None if inbox is None else (inbox, bool(inbox.has_intakes))


def pending_receipts(inbox_id: int, *, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """(id, payload) of the inbox's pending receipts, oldest event first (no event time first)."""
    return list(
        WebhookReceipt.objects.filter(inbox_id=inbox_id, status=WebhookReceipt.Status.PENDING)
        .order_by(F("occurred_at").asc(nulls_first=True), "id")
        .values_list("pk", "payload")[:limit]
    )


def message_with_inbox(message_id: int) -> Message | None:
    """A message with its conversation and inbox (fetching media that arrived late)."""
    return Message.objects.select_related("conversation__inbox").filter(pk=message_id).first()


# --- connected accounts ---------------------------------------------------------------------------


def visible_inboxes(actor: Actor) -> QuerySet[Inbox]:
    """The brand's connected accounts, for those who manage them (HQ admins); nothing for others."""
    if not actor.can("apikeys.manage") or not actor.brand_wide:
        return Inbox.objects.none()
    return Inbox.objects.filter(brand_id=actor.brand.pk).order_by("platform", "name", "id")


def inbox_of_account(platform: str, external_id: str) -> Inbox | None:
    """The inbox (of any brand) already holding this platform account, e.g. a LINE channel id."""
    return Inbox.objects.filter(platform=platform, external_id=external_id).select_related("brand").first()


@dataclass(frozen=True)
class LastWebhook:
    """The latest webhook request an inbox received: when, how many events, what became of them."""

    received_at: dt.datetime | None
    events: int
    processed: int
    failed: int
    pending: int
    signature_failed_at: dt.datetime | None

    @property
    def outcome(self) -> str:
        """'signature_failed' | 'failed' | 'pending' | 'processed' | 'none'."""
        if self.signature_failed_at and (
            self.received_at is None or self.signature_failed_at > self.received_at
        ):
            return "signature_failed"
        if self.received_at is None:
            return "none"
        if self.failed:
            return "failed"
        if self.pending:
            return "pending"
        return "processed"


def last_webhook(inbox: Inbox) -> LastWebhook:
    """From what the edge stored: receipts of the latest request (one commit, one received_at),
    or a whole request still waiting as an intake; plus the last refused signature, if any."""
    signature_failed = (inbox.config or {}).get("signature_failed_at")
    signature_failed_at = dt.datetime.fromisoformat(signature_failed) if signature_failed else None
    intake = WebhookIntake.objects.filter(inbox_id=inbox.pk).order_by("-received_at").first()
    latest = WebhookReceipt.objects.filter(inbox_id=inbox.pk).order_by("-received_at", "-id").first()
    if intake is not None and (latest is None or intake.received_at >= latest.received_at):
        quarantined = intake.failed_at is not None
        return LastWebhook(
            intake.received_at, 0, 0, int(quarantined), int(not quarantined), signature_failed_at
        )
    if latest is None:
        return LastWebhook(None, 0, 0, 0, 0, signature_failed_at)
    rows = WebhookReceipt.objects.filter(inbox_id=inbox.pk, received_at=latest.received_at)
    statuses = list(rows.values_list("status", flat=True))
    done = (WebhookReceipt.Status.PROCESSED, WebhookReceipt.Status.IGNORED)
    return LastWebhook(
        received_at=latest.received_at,
        events=len(statuses),
        processed=sum(1 for s in statuses if s in done),
        failed=sum(1 for s in statuses if s == WebhookReceipt.Status.FAILED),
        pending=sum(1 for s in statuses if s == WebhookReceipt.Status.PENDING),
        signature_failed_at=signature_failed_at,
    )
