"""`/ws/inbox/`: live conversation lists and chats for signed-in staff.

Protocol (JSON text frames):
    client → {"type": "subscribe.list"}                         join the list groups the role allows
    client → {"type": "subscribe.conversation", "conversation_id": 12}
    client → {"type": "unsubscribe.conversation", "conversation_id": 12}
    client → {"type": "ping"}
    server → {"type": "hello", "user_id", "role"} on connect
    server → {"type": "subscribed", "target": "list"|"conversation", ...}
    server → {"type": "error", "code": "forbidden"|"bad_request", "message"}
    server → events of omo.inbox.realtime.SOCKET_EVENTS

Scope is checked when a socket subscribes (and again when a conversation it holds is reassigned):
a clerk only their own customers' / assigned conversations, a store manager their store's, HQ the
brand's; a conversation of another brand is refused like one that does not exist.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from omo.core.audit import Actor
from omo.inbox import realtime, selectors
from omo.staff.actors import actor_for_user

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
RECENT_EVENTS = 256  # a socket in several groups gets one event once


def _can_view(actor: Actor, conversation_id: int) -> dict[str, Any] | None:
    conversation = selectors.get_conversation(actor, conversation_id)
    return selectors.conversation_summary(conversation) if conversation is not None else None


def _as_id(value: object) -> int | None:
    """An id sent as a JSON number or a string of digits; None for anything else."""
    if not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # "12a", NaN, Infinity
        return None


def _still_visible(actor: Actor, conversation_id: int) -> bool:
    return selectors.visible_conversations(actor).filter(pk=conversation_id).exists()


class InboxConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not user.brand_id:  # superusers without a brand use /admin/, not the inbox
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        # The one Actor of the console and clerk app: the same visible_conversations rule decides.
        self.actor = await database_sync_to_async(actor_for_user)(user)
        self.joined: set[str] = set()
        self.conversations: set[int] = set()
        self.recent: deque[str] = deque(maxlen=RECENT_EVENTS)
        await self.accept()
        await self.send_json({"type": "hello", "user_id": user.pk, "role": user.role})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _join(self, group: str) -> None:
        if group not in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.add(group)

    async def _leave(self, group: str) -> None:
        if group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.joined.discard(group)

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def receive_json(self, content: object, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("bad_request", "send a JSON object with a type")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe.list":
            groups = await database_sync_to_async(realtime.list_groups)(self.actor)
            for group in groups:
                await self._join(group)
            await self.send_json({"type": "subscribed", "target": "list", "groups": len(groups)})
        elif kind in ("subscribe.conversation", "unsubscribe.conversation"):
            conversation_id = _as_id(content.get("conversation_id"))
            if conversation_id is None:
                await self._error("bad_request", "conversation_id must be a number")
                return
            if kind == "unsubscribe.conversation":
                await self._leave(realtime.conversation_group(conversation_id))
                self.conversations.discard(conversation_id)
                await self.send_json({"type": "unsubscribed", "conversation_id": conversation_id})
                return
            summary = await database_sync_to_async(_can_view)(self.actor, conversation_id)
            if summary is None:
                await self._error("forbidden", "no such conversation", conversation_id=conversation_id)
                return
            await self._join(realtime.conversation_group(conversation_id))
            self.conversations.add(conversation_id)
            await self.send_json({"type": "subscribed", "target": "conversation", "conversation": summary})
        else:
            await self._error("bad_request", f"unknown type {kind!r}")

    async def inbox_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        event_id = event.get("event_id")
        if event_id in self.recent:
            return
        self.recent.append(event_id)
        conversation_id = event.get("conversation_id")
        if event["type"] == "conversation.assigned" and conversation_id is not None:
            # Moved away from this user (transfer, escalation): stop showing it.
            if not await database_sync_to_async(_still_visible)(self.actor, conversation_id):
                await self._leave(realtime.conversation_group(conversation_id))
                self.conversations.discard(conversation_id)
                await self.send_json(
                    realtime.check({"type": "conversation.removed", "conversation_id": conversation_id})
                )
                return
        await self.send_json(event)
