"""Inbound domain steps, the same for every platform: contact → customer → conversation → message.

Platform code (omo/platforms/<platform>/inbound.py) parses the platform's events and calls these
verbs; nothing here knows a platform's wire format. Every verb is idempotent (unique keys plus a
get-or-create that survives a race) because receipts can be processed again.

Extension points for other apps (register once, in the app's AppConfig.ready):

- `register_message_handler(handler, name=…)`: text messages pass through these in order; a
  handler returns True to consume the message (e.g. binding's prefilled "#C123" code flow). The
  message is still recorded (nothing is lost) but does not wait for a clerk's answer. A handler
  answers for free by calling `omo.inbox.outbound.queue_message(ctx.conversation, …)` while
  `ctx.can_reply` is true: the delivery uses the reply token this event brought.
- `register_postback_handler(prefix, handler)`: postback data is routed by its longest matching
  prefix, e.g. "bind:confirm:" for "bind:confirm:<token>". Unclaimed postbacks are recorded in the
  timeline as a "postback" message.
- `register_follow_handler(handler)`: runs when someone adds (or unblocks) the account, with a
  fresh reply token, e.g. to send a welcome or a binding prompt.

Domain event: `message.created` (brand_id, conversation_id, message_id, direction) after commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from omo.core import bulk, events
from omo.customers import consent
from omo.customers import search as customer_search
from omo.customers import services as customer_services
from omo.customers.models import Customer, CustomerIdentity
from omo.inbox.models import Contact, Conversation, Inbox, Message

logger = logging.getLogger(__name__)

# Inbox.platform → CustomerIdentity.kind of the platform's user id.
IDENTITY_KIND: dict[str, str] = {
    "line": CustomerIdentity.Kind.LINE,
    "messenger": CustomerIdentity.Kind.MESSENGER,
    "instagram": CustomerIdentity.Kind.INSTAGRAM,
    "whatsapp": CustomerIdentity.Kind.WHATSAPP,
    "webchat": CustomerIdentity.Kind.ANONYMOUS,
}
PREVIEW_BY_KIND: dict[str, str] = {
    Message.Kind.IMAGE: "[圖片]",
    Message.Kind.VIDEO: "[影片]",
    Message.Kind.AUDIO: "[語音]",
    Message.Kind.FILE: "[檔案]",
    Message.Kind.LOCATION: "[位置]",
    Message.Kind.STICKER: "[貼圖]",
    Message.Kind.FLEX: "[商品卡片]",
    Message.Kind.POSTBACK: "[按鈕]",
}


@dataclass(frozen=True)
class InboundContext:
    """What a handler gets: who wrote, where, when, and whether a free reply is possible."""

    inbox: Inbox
    contact: Contact
    conversation: Conversation
    occurred_at: dt.datetime
    can_reply: bool  # this event's reply token is stored on the conversation (LINE: free reply)


MessageHandler = Callable[[InboundContext, Message], bool]
PostbackHandler = Callable[[InboundContext, str, dict[str, Any]], bool | None]
FollowHandler = Callable[[InboundContext, bool], None]

_message_handlers: dict[str, MessageHandler] = {}
_message_handler_filters: dict[str, Callable[[InboundContext, Message], bool]] = {}
_postback_handlers: dict[str, PostbackHandler] = {}
_follow_handlers: dict[str, FollowHandler] = {}


def register_message_handler(
    handler: MessageHandler,
    *,
    name: str | None = None,
    matches: Callable[[InboundContext, Message], bool] | None = None,
) -> None:
    """Add a text-message handler (re-registering the same name replaces it). Runs in registration order.

    `matches(ctx, message)`: a quick look, without writes, at whether the handler could act; when it
    says no the handler is skipped without a savepoint (most messages are for no handler)."""
    key = name or f"{handler.__module__}.{handler.__qualname__}"
    _message_handlers[key] = handler
    if matches is None:
        _message_handler_filters.pop(key, None)
    else:
        _message_handler_filters[key] = matches


def register_postback_handler(prefix: str, handler: PostbackHandler) -> None:
    """Route postback data starting with `prefix` (e.g. "bind:confirm:") to `handler(ctx, data, params)`."""
    if not prefix:
        raise ValueError("a postback prefix cannot be empty")
    _postback_handlers[prefix] = handler


def register_follow_handler(handler: FollowHandler, *, name: str | None = None) -> None:
    _follow_handlers[name or f"{handler.__module__}.{handler.__qualname__}"] = handler


def unregister_handlers(*names_or_prefixes: str) -> None:
    """Remove handlers by name or postback prefix (tests)."""
    for key in names_or_prefixes:
        _message_handlers.pop(key, None)
        _message_handler_filters.pop(key, None)
        _postback_handlers.pop(key, None)
        _follow_handlers.pop(key, None)


# --- contacts and customers ----------------------------------------------------------------------


def _customer_for(inbox: Inbox, external_user_id: str, *, name: str) -> Customer:
    """The customer holding this platform user id, or a new bare customer named after the profile."""
    kind = IDENTITY_KIND.get(inbox.platform, CustomerIdentity.Kind.EXTERNAL)
    return customer_services.customer_for_identifier(
        inbox.brand,
        kind,
        external_user_id,
        name=name[:120],
        source=f"{inbox.platform} inbox {inbox.pk}",
        # Verified: the id came in a webhook the platform signed (docs/identity.md).
        verified=kind != CustomerIdentity.Kind.ANONYMOUS,
    )


def get_or_create_contact(
    inbox: Inbox,
    external_user_id: str,
    *,
    display_name: str = "",
    picture_url: str = "",
    language: str = "",
    profile_fetched_at: dt.datetime | None = None,
) -> Contact:
    """The inbox's contact for this platform user, created with its customer on first sight."""
    contact = (
        Contact.objects.select_related("customer")
        .filter(inbox=inbox, external_user_id=external_user_id)
        .first()
    )
    if contact is None:
        customer = _customer_for(inbox, external_user_id, name=display_name)
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    brand_id=inbox.brand_id,
                    inbox=inbox,
                    external_user_id=external_user_id,
                    customer=customer,
                    display_name=display_name[:120],
                    picture_url=picture_url[:1000],
                    language=language[:10],
                    profile_fetched_at=profile_fetched_at,
                )
            if display_name:
                customer_search.refresh([customer.pk])  # the display name is searchable
            return contact
        except IntegrityError:
            contact = Contact.objects.select_related("customer").get(
                inbox=inbox, external_user_id=external_user_id
            )
    if profile_fetched_at is not None:
        update_contact_profile(
            contact,
            display_name=display_name,
            picture_url=picture_url,
            language=language,
            fetched_at=profile_fetched_at,
        )
    return contact


def update_contact_profile(
    contact: Contact, *, display_name: str, picture_url: str, language: str, fetched_at: dt.datetime
) -> Contact:
    changes = {
        "display_name": display_name[:120] or contact.display_name,
        "picture_url": picture_url[:1000],
        "language": language[:10] or contact.language,
        "profile_fetched_at": fetched_at,
    }
    for field, value in changes.items():
        setattr(contact, field, value)
    contact.save(update_fields=list(changes))
    if not contact.customer.name and display_name:
        # A bare customer made from an earlier event without a profile gets the name now.
        customer_services.name_if_unnamed(contact.customer_id, display_name)
    if display_name:
        customer_search.refresh([contact.customer_id])  # the display name is searchable
    return contact


def mark_followed(contact: Contact, *, at: dt.datetime) -> bool:
    """Follow or unblock at `at`. Ignored when a later block or follow is already recorded (out of order)."""
    updated = (
        Contact.objects.filter(pk=contact.pk)
        .filter(Q(blocked_at__isnull=True) | Q(blocked_at__lt=at))
        .filter(Q(followed_at__isnull=True) | Q(followed_at__lte=at))
        .update(is_follower=True, followed_at=at, blocked_at=None)
    )
    contact.refresh_from_db(fields=["is_follower", "followed_at", "blocked_at"])
    return updated == 1


def mark_unfollowed(contact: Contact, *, at: dt.datetime) -> bool:
    """Blocked (LINE unfollow) at `at`: unreachable. Ignored when a later follow is already recorded.

    A follow and an unfollow with the same timestamp: the unfollow wins, in whichever order they
    are processed (a follow is ignored unless it is strictly later than the block, and an unfollow
    applies over a follow of the same moment). LINE gives no order within a millisecond, and not
    messaging someone who may have blocked us is the safe side; their next follow turns it back."""
    updated = (
        Contact.objects.filter(pk=contact.pk)
        .filter(Q(followed_at__isnull=True) | Q(followed_at__lte=at))
        .filter(Q(blocked_at__isnull=True) | Q(blocked_at__lt=at))
        .update(is_follower=False, blocked_at=at)
    )
    contact.refresh_from_db(fields=["is_follower", "followed_at", "blocked_at"])
    return updated == 1


# --- conversations and messages ------------------------------------------------------------------


def get_or_create_conversation(inbox: Inbox, contact: Contact, *, lock: bool = False) -> Conversation:
    """The one conversation of this customer on this inbox (new ones start in the HQ queue).

    `lock=True` (inside a transaction) holds the row until commit, so the caller may decide its
    changes from the values read and write them in one UPDATE."""
    conversations = Conversation.objects.filter(inbox=inbox, customer_id=contact.customer_id)
    if lock:
        conversations = conversations.select_for_update(of=("self",))
    conversation = conversations.first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(
                brand_id=inbox.brand_id, inbox=inbox, contact=contact, customer_id=contact.customer_id
            )
    except IntegrityError:
        return Conversation.objects.get(inbox=inbox, customer_id=contact.customer_id)


def store_reply_token(conversation: Conversation, token: str, *, at: dt.datetime) -> bool:
    """Keep the newest reply token (by event time) for a later free reply."""
    updated = (
        Conversation.objects.filter(pk=conversation.pk)
        .filter(Q(reply_token_at__isnull=True) | Q(reply_token_at__lt=at))
        .update(reply_token=token[:200], reply_token_at=at)
    )
    if updated:
        conversation.reply_token, conversation.reply_token_at = token[:200], at
    return updated == 1


def record_inbound_message(
    inbox: Inbox,
    contact: Contact,
    *,
    kind: str,
    occurred_at: dt.datetime,
    external_id: str | None = None,
    text: str = "",
    payload: dict[str, Any] | None = None,
    attachment: tuple[str, bytes] | None = None,
    conversation: Conversation | None = None,
    conversation_changes: dict[str, Any] | None = None,
) -> Message:
    """Record what the customer sent, once per platform message id.

    Returns the Message with `is_new` set: False when this external id was already recorded (a
    redelivery or a second processing), in which case nothing else happened. `created_at` is the
    event time, so the timeline stays in the order things happened even when events arrive late.
    With `conversation_changes`, the caller holds the conversation's row lock: the new last message
    goes into that dict for the caller's one UPDATE instead of an UPDATE of its own.
    """
    conversation = conversation or get_or_create_conversation(inbox, contact)
    # The caller's transaction (processing a receipt) is enough: no savepoint of our own. The one
    # around the INSERT lets a repeated external id fall back to the stored message.
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    brand_id=inbox.brand_id,
                    conversation=conversation,
                    direction=Message.Direction.INBOUND,
                    kind=kind,
                    text=text,
                    payload=payload or {},
                    status=Message.Status.RECEIVED,
                    external_id=external_id or None,
                    created_at=occurred_at,
                )
        except IntegrityError:
            existing = Message.objects.get(brand_id=inbox.brand_id, external_id=external_id)
            existing.is_new = False
            return existing
        if attachment is not None:
            name, data = attachment
            message.attachment.save(name, ContentFile(data), save=False)
            Message.objects.filter(pk=message.pk).update(attachment=message.attachment.name)
        preview = (text or PREVIEW_BY_KIND.get(kind, ""))[:200]
        if conversation_changes is None:
            Conversation.objects.filter(pk=conversation.pk).filter(
                Q(last_message_at__isnull=True) | Q(last_message_at__lte=occurred_at)
            ).update(last_message_at=occurred_at, last_message_preview=preview)
        elif conversation.last_message_at is None or conversation.last_message_at <= occurred_at:
            conversation_changes.update(last_message_at=occurred_at, last_message_preview=preview)
        Contact.objects.filter(pk=contact.pk).filter(
            Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=occurred_at)
        ).update(last_inbound_at=occurred_at)
        events.publish(
            "message.created",
            brand_id=inbox.brand_id,
            conversation_id=conversation.pk,
            message_id=message.pk,
            direction=Message.Direction.INBOUND,
        )
    message.is_new = True
    return message


def mark_awaiting_reply(conversation: Conversation, message: Message) -> None:
    """The customer is waiting for the brand: unread + the oldest unanswered time (SLA starts there).

    The routing engineer extends this step (queue, assignee, SLA due time)."""
    # One UPDATE: one more unread, and the waiting time moves back for a late, older message. It
    # returns the row as it now is, which routing reads (instead of a second look).
    _count_unread(conversation, message.created_at)
    # Routing: bound clerk → store team → HQ; starts the SLA clock (omo/inbox/routing.py).
    from omo.inbox import routing

    routing.on_inbound(conversation, message, fresh=True)


@functools.cache
def _count_unread_sql() -> str:
    ops, meta = connection.ops, Conversation._meta
    column = {field.name: ops.quote_name(bulk.column_of(field)) for field in meta.concrete_fields}
    returning = ", ".join(column.values())
    waiting = column["waiting_since"]
    return (
        f"UPDATE {ops.quote_name(meta.db_table)} SET "  # noqa: S608 - names from _meta
        f"{column['unread_count']} = {column['unread_count']} + 1, "
        f"{waiting} = CASE WHEN {waiting} IS NULL OR {waiting} > %s THEN %s ELSE {waiting} END "
        f"WHERE {column['id']} = %s RETURNING {returning}"
    )


def _count_unread(conversation: Conversation, at: dt.datetime) -> None:
    """unread + 1 and waiting since `at` if earlier, then refresh `conversation` from the returned row."""
    at_db = connection.ops.adapt_datetimefield_value(at)
    rows = list(Conversation.objects.raw(_count_unread_sql(), [at_db, at_db, conversation.pk]))
    if not rows:
        raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
    fresh = rows[0]
    for field in Conversation._meta.concrete_fields:
        if field.name != "id":
            setattr(conversation, field.attname, getattr(fresh, field.attname))


def attach_content(message: Message, *, name: str, data: bytes) -> None:
    """Store media fetched after the message was recorded (content that was still being prepared)."""
    message.attachment.save(name, ContentFile(data), save=False)
    Message.objects.filter(pk=message.pk).update(attachment=message.attachment.name)


def record_content_tries(message: Message, tries: int) -> None:
    """How many times fetching the message's media has been tried (it was not ready, or failed)."""
    payload = {**(message.payload or {}), "content_tries": tries}
    Message.objects.filter(pk=message.pk).update(payload=payload)
    message.payload = payload


def mark_unsent(inbox: Inbox, external_id: str, *, at: dt.datetime) -> bool:
    """The customer took a message back: we keep the row (timeline) but drop what it said."""
    message = Message.objects.filter(
        brand_id=inbox.brand_id,
        external_id=external_id,
        direction=Message.Direction.INBOUND,
        conversation__inbox=inbox,
    ).first()
    if message is None:
        return False
    message.payload = {"unsent_at": at.isoformat()}
    message.text = ""
    message.save(update_fields=["payload", "text"])
    if message.attachment:
        message.attachment.delete(save=True)
    return True


def record_edit(inbox: Inbox, external_id: str, *, text: str, at: dt.datetime) -> bool:
    """A newer version of a text message the customer sent to this inbox; the latest edit (by event
    time) wins. A message another inbox received is never touched, whatever the id says."""
    message = Message.objects.filter(
        brand_id=inbox.brand_id,
        external_id=external_id,
        direction=Message.Direction.INBOUND,
        conversation__inbox=inbox,
    ).first()
    if message is None:
        return False
    edited_ms = int(at.timestamp() * 1000)
    if int((message.payload or {}).get("edited_at_ms") or 0) >= edited_ms:
        return False
    message.text = text
    message.payload = {**(message.payload or {}), "edited_at_ms": edited_ms}
    message.save(update_fields=["text", "payload"])
    return True


# --- the handlers -----------------------------------------------------------------------------------


def run_message_handlers(ctx: InboundContext, message: Message) -> bool:
    """True when a handler consumed the message. A failing handler is logged and skipped, its writes undone."""
    for name, handler in list(_message_handlers.items()):
        matches = _message_handler_filters.get(name)
        if matches is not None and not matches(ctx, message):
            continue
        try:
            with transaction.atomic():
                if handler(ctx, message):
                    return True
        except Exception:
            logger.exception("message handler %s failed on message %s", name, message.pk)
    return False


def dispatch_postback(ctx: InboundContext, data: str, params: dict[str, Any]) -> bool:
    """Run the handler with the longest prefix of `data`; False when none claims it."""
    for prefix in sorted(_postback_handlers, key=len, reverse=True):
        if data.startswith(prefix):
            handler = _postback_handlers[prefix]
            try:
                with transaction.atomic():
                    return handler(ctx, data, params) is not False
            except Exception:
                logger.exception("postback handler %s failed on %r", prefix, data)
                return False
    return False


def run_follow_handlers(ctx: InboundContext, *, unblocked: bool) -> None:
    for name, handler in list(_follow_handlers.items()):
        try:
            with transaction.atomic():
                handler(ctx, unblocked)
        except Exception:
            logger.exception("follow handler %s failed for contact %s", name, ctx.contact.pk)


# --- the flows platform code calls -----------------------------------------------------------------


@transaction.atomic(savepoint=False)  # inside a receipt's transaction, which fails as a whole
def receive_message(
    inbox: Inbox,
    contact: Contact,
    *,
    kind: str,
    occurred_at: dt.datetime,
    external_id: str | None,
    text: str = "",
    payload: dict[str, Any] | None = None,
    attachment: tuple[str, bytes] | None = None,
    reply_token: str | None = None,
    handlers: bool = True,
) -> Message:
    """A message from a customer: record it, keep the reply token, let handlers look, await an answer.

    `handlers=False` records only (e.g. LINE standby mode, where another app answers the chat)."""
    # Locked: the new last message and reply token are decided here and written in one UPDATE.
    conversation = get_or_create_conversation(inbox, contact, lock=True)
    changes: dict[str, Any] = {}
    message = record_inbound_message(
        inbox,
        contact,
        conversation=conversation,
        conversation_changes=changes,
        kind=kind,
        occurred_at=occurred_at,
        external_id=external_id,
        text=text,
        payload=payload,
        attachment=attachment,
    )
    if not message.is_new:
        return message
    # Keep the newest reply token (by event time) for a later free reply.
    can_reply = bool(reply_token) and (
        conversation.reply_token_at is None or conversation.reply_token_at < occurred_at
    )
    if can_reply and reply_token:
        changes.update(reply_token=reply_token[:200], reply_token_at=occurred_at)
    if changes:
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        for field, value in changes.items():
            setattr(conversation, field, value)
    consumed = False
    if kind == Message.Kind.TEXT and handlers:
        ctx = InboundContext(inbox, contact, conversation, occurred_at, can_reply)
        consumed = run_message_handlers(ctx, message)
    if consumed:
        Message.objects.filter(pk=message.pk).update(payload={**message.payload, "consumed": True})
    else:
        mark_awaiting_reply(conversation, message)
    return message


@transaction.atomic
def receive_postback(
    inbox: Inbox,
    contact: Contact,
    *,
    data: str,
    params: dict[str, Any],
    occurred_at: dt.datetime,
    reply_token: str | None = None,
    handlers: bool = True,
) -> bool:
    """A button tap: a registered handler claims it, or it is recorded in the timeline. True if claimed."""
    conversation = get_or_create_conversation(inbox, contact)
    can_reply = bool(reply_token and store_reply_token(conversation, reply_token, at=occurred_at))
    ctx = InboundContext(inbox, contact, conversation, occurred_at, can_reply)
    if handlers and dispatch_postback(ctx, data, params):
        return True
    message = record_inbound_message(
        inbox,
        contact,
        conversation=conversation,
        kind=Message.Kind.POSTBACK,
        occurred_at=occurred_at,
        text=data[:300],
        payload={"data": data, "params": params},
    )
    mark_awaiting_reply(conversation, message)
    return False


@transaction.atomic
def receive_follow(
    inbox: Inbox,
    contact: Contact,
    *,
    occurred_at: dt.datetime,
    unblocked: bool,
    reply_token: str | None = None,
    handlers: bool = True,
) -> bool:
    """Someone added (or unblocked) the account. False when a later block was already recorded."""
    if not mark_followed(contact, at=occurred_at):
        return False
    # Following the account says messages are welcome (omo/customers/consent.py, docs/privacy.md).
    consent.on_follow(contact, at=occurred_at)
    conversation = get_or_create_conversation(inbox, contact)
    can_reply = bool(reply_token and store_reply_token(conversation, reply_token, at=occurred_at))
    if handlers:
        ctx = InboundContext(inbox, contact, conversation, occurred_at, can_reply)
        run_follow_handlers(ctx, unblocked=unblocked)
    return True


@transaction.atomic
def receive_unfollow(contact: Contact, *, occurred_at: dt.datetime) -> bool:
    if not mark_unfollowed(contact, at=occurred_at):
        return False
    consent.on_unfollow(contact, at=occurred_at)  # a block withdraws marketing consent on the platform
    return True
