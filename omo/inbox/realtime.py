"""Pushing inbox changes to staff screens over WebSockets (Channels groups), after commit.

Groups (names are what `group_send` addresses; a socket joins only what its scope allows, see
omo/inbox/consumers.py):
    omo.conv.<id>    a socket that opened this conversation
    omo.user.<id>    the conversation list of one clerk (assigned to them / their bound customers)
    omo.store.<id>   a store's conversations (store manager; clerks when the brand lets the team see)
    omo.brand.<id>   every conversation of the brand (HQ)

Every payload that reaches a browser has a declared schema (`SOCKET_EVENTS`), checked when built;
omo/inbox/tests/test_realtime.py asserts it. Subscribers are registered in InboxConfig.ready via
`register()`; omo.core.events runs them after the transaction commits, so a rolled-back change is
never pushed. With REDIS_URL the channel layer is Redis and any web process reaches any socket.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db.models import OuterRef, Subquery

from omo.binding.models import Binding
from omo.binding.selectors import bound_clerk_id
from omo.core import channel_layer, events
from omo.core.access import Scope
from omo.core.errors import DomainError
from omo.inbox import selectors
from omo.inbox.models import Conversation, Message

logger = logging.getLogger(__name__)

CONSUMER_HANDLER = "inbox.event"  # → InboxConsumer.inbox_event

MESSAGE_KEYS = frozenset(
    {
        "id",
        "conversation_id",
        "direction",
        "kind",
        "text",
        "payload",
        "status",
        "failure_reason",
        "sent_via",
        "sender_id",
        "created_at",
        "attachment_url",
    }
)
CONVERSATION_KEYS = frozenset(
    {
        "id",
        "customer_id",
        "name",
        "queue",
        "assignee_id",
        "store_id",
        "status",
        "labels",
        "unread_count",
        "last_message_at",
        "last_message_preview",
        "waiting_since",
        "sla_due_at",
    }
)
# The delivery state of an outgoing message, as message.updated carries it.
DELIVERY_KEYS = frozenset({"id", "conversation_id", "status", "failure_reason", "sent_via", "sent_at"})
# type → the keys its payload carries (exactly).
SOCKET_EVENTS: dict[str, frozenset[str]] = {
    "message.created": frozenset({"type", "event_id", "conversation_id", "message", "conversation"}),
    "message.updated": frozenset({"type", "event_id", "conversation_id", "message"}),
    "conversation.updated": frozenset({"type", "event_id", "conversation_id", "fields", "conversation"}),
    "conversation.assigned": frozenset(
        {
            "type",
            "event_id",
            "conversation_id",
            "conversation",
            "reason",
            "previous_assignee_id",
            "previous_store_id",
        }
    ),
    "binding.changed": frozenset({"type", "event_id", "customer_id", "clerk_id", "bound", "binding_id"}),
    # sent by the consumer itself
    "conversation.removed": frozenset({"type", "conversation_id"}),
}
NESTED_KEYS = {"message": MESSAGE_KEYS, "conversation": CONVERSATION_KEYS}
NESTED_KEYS_BY_TYPE = {"message.updated": {"message": DELIVERY_KEYS}}


class SchemaError(DomainError, ValueError):
    """A socket event that does not match its declared schema: a fault of the code, not the user."""

    status = 500
    code = "undeclared_event"


def check(payload: dict[str, Any]) -> dict[str, Any]:
    """Raise SchemaError unless the payload has exactly its type's declared keys (nested ones too)."""
    expected = SOCKET_EVENTS.get(payload.get("type", ""))
    if expected is None:
        raise SchemaError(f"undeclared socket event {payload.get('type')!r}")
    if set(payload) != expected:
        raise SchemaError(f"{payload['type']} expects {sorted(expected)}, got {sorted(payload)}")
    for key, keys in NESTED_KEYS_BY_TYPE.get(payload["type"], NESTED_KEYS).items():
        if key in payload and set(payload[key]) != keys:
            raise SchemaError(f"{payload['type']}.{key} expects {sorted(keys)}, got {sorted(payload[key])}")
    return payload


def conversation_group(conversation_id: int) -> str:
    return f"omo.conv.{conversation_id}"


def user_group(user_id: int) -> str:
    return f"omo.user.{user_id}"


def store_group(store_id: int) -> str:
    return f"omo.store.{store_id}"


def brand_group(brand_id: int) -> str:
    return f"omo.brand.{brand_id}"


def list_groups(who: selectors.Viewer) -> list[str]:
    """The list groups this socket may join: what the actor's scope lets it see (the same scope as
    omo.inbox.selectors.visible_conversations)."""
    actor = selectors._actor(who)
    if actor is None:
        return []
    if actor.scope == Scope.BRAND:
        return [brand_group(actor.brand.pk)]
    if actor.scope == Scope.STORE:
        return [store_group(actor.store_id)] if actor.store_id else []
    if not actor.user_id:
        return []
    groups = [user_group(actor.user_id)]
    if actor.store_id and selectors.inbox_settings(actor.brand.pk).store_team_sees_clerk_customers:
        groups.append(store_group(actor.store_id))
    return groups


_UNKNOWN = object()


def audience(
    conversation: Conversation,
    *extra_users: int | None,
    extra_stores: tuple[int | None, ...] = (),
    clerk_id: Any = _UNKNOWN,
) -> set[str]:
    """Every list group that shows this conversation, plus its own group.

    `clerk_id`: the customer's bound clerk when the caller read it already (None: no clerk)."""
    groups = {conversation_group(conversation.pk), brand_group(conversation.brand_id)}
    for store_id in (conversation.store_id, *extra_stores):
        if store_id:
            groups.add(store_group(store_id))
    if clerk_id is _UNKNOWN:
        clerk_id = bound_clerk_id(conversation.brand_id, conversation.customer_id)
    for user_id in (conversation.assignee_id, clerk_id, *extra_users):
        if user_id:
            groups.add(user_group(user_id))
    return groups


def worker_events_reach_sockets() -> bool:
    """Whether events published by a worker (delivery results) reach the web server's sockets.

    Not with the in-memory channel layer while tasks run in a separate `omo worker` process: each
    process has its own layer. Screens then refresh delivery states themselves. OMO_WORKER_EVENTS_LIVE
    overrides the guess (a worker running inside the web server's process).
    """
    override = getattr(settings, "OMO_WORKER_EVENTS_LIVE", None)
    if override is not None:
        return bool(override)
    layer = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    if not layer.endswith("InMemoryChannelLayer"):
        return True
    return str(settings.TASKS.get("default", {}).get("BACKEND", "")).endswith("ImmediateBackend")


def send(groups: set[str] | list[str], payload: dict[str, Any]) -> None:
    check(payload)
    layer = get_channel_layer()
    if layer is None:
        return
    # A push failing must not break the request that changed the data: errors are logged only.
    try:
        errors = channel_layer.group_send_many(layer, groups, {"type": CONSUMER_HANDLER, "event": payload})
    except Exception:
        logger.exception("group_send to %s failed", sorted(groups))
        return
    for error in errors:
        logger.error("group_send of a %s event failed", payload.get("type"), exc_info=error)


def _event_id() -> str:
    return uuid.uuid4().hex


def _conversation(conversation_id: int) -> Conversation | None:
    return Conversation.objects.select_related("contact", "customer").filter(pk=conversation_id).first()


# --- subscribers of domain events ----------------------------------------------------------------


def on_message_created(event: dict[str, Any]) -> None:
    # One query: the message, its conversation and contact, and the customer's bound clerk. It runs
    # between a customer's message being stored and the clerk seeing it, so every look-up counts.
    bound_clerk = Binding.objects.filter(
        brand_id=OuterRef("brand_id"),
        customer_id=OuterRef("conversation__customer_id"),
        ended_at__isnull=True,
    ).values("clerk_id")[:1]
    message = (
        Message.objects.select_related("conversation__contact")
        .annotate(bound_clerk_id=Subquery(bound_clerk))
        .filter(pk=event["message_id"], brand_id=event["brand_id"], conversation_id=event["conversation_id"])
        .first()
    )
    if message is None:
        return
    conversation = message.conversation
    send(
        audience(conversation, clerk_id=message.bound_clerk_id),
        {
            "type": "message.created",
            "event_id": _event_id(),
            "conversation_id": conversation.pk,
            "message": selectors.message_dict(message),
            "conversation": selectors.conversation_summary(conversation),
        },
    )


def delivery_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "status": message.status,
        "failure_reason": message.failure_reason,
        "sent_via": message.sent_via,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
    }


def on_message_updated(event: dict[str, Any]) -> None:
    """Delivery state changed: the same screens as message.created get the message's state now."""
    message = (
        Message.objects.filter(pk=event["message_id"], brand_id=event["brand_id"])
        .only("id", "conversation_id", "status", "failure_reason", "sent_via", "sent_at")
        .first()
    )
    conversation = _conversation(event["conversation_id"])
    if message is None or conversation is None or message.conversation_id != conversation.pk:
        return
    send(
        audience(conversation),
        {
            "type": "message.updated",
            "event_id": _event_id(),
            "conversation_id": conversation.pk,
            "message": delivery_dict(message),
        },
    )


def on_conversation_updated(event: dict[str, Any]) -> None:
    conversation = _conversation(event["conversation_id"])
    if conversation is None:
        return
    send(
        audience(conversation),
        {
            "type": "conversation.updated",
            "event_id": _event_id(),
            "conversation_id": conversation.pk,
            "fields": list(event["fields"]),
            "conversation": selectors.conversation_summary(conversation),
        },
    )


def on_conversation_assigned(event: dict[str, Any]) -> None:
    conversation = _conversation(event["conversation_id"])
    if conversation is None:
        return
    # The previous assignee and store get it too, so their lists drop the row.
    groups = audience(conversation, event["previous_assignee_id"], extra_stores=(event["previous_store_id"],))
    send(
        groups,
        {
            "type": "conversation.assigned",
            "event_id": _event_id(),
            "conversation_id": conversation.pk,
            "conversation": selectors.conversation_summary(conversation),
            "reason": event["reason"],
            "previous_assignee_id": event["previous_assignee_id"],
            "previous_store_id": event["previous_store_id"],
        },
    )


def _on_binding(bound: bool) -> Any:
    def handler(event: dict[str, Any]) -> None:
        send(
            {user_group(event["clerk_id"])},
            {
                "type": "binding.changed",
                "event_id": _event_id(),
                "customer_id": event["customer_id"],
                "clerk_id": event["clerk_id"],
                "bound": bound,
                "binding_id": event["binding_id"],
            },
        )

    handler.__qualname__ = f"on_binding_{'created' if bound else 'ended'}"
    return handler


on_binding_created = _on_binding(True)
on_binding_ended = _on_binding(False)


def register() -> None:
    events.subscribe("message.created", on_message_created)
    events.subscribe("message.updated", on_message_updated)
    events.subscribe("conversation.updated", on_conversation_updated)
    events.subscribe("conversation.assigned", on_conversation_assigned)
    events.subscribe("binding.created", on_binding_created)
    events.subscribe("binding.ended", on_binding_ended)
