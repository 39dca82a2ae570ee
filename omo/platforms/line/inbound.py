"""LINE webhook events → omo domain steps (omo.inbox.ingest).

Two phases per event, so that no database transaction (and on SQLite, no write lock the webhook
edge is waiting for) is held across a call to LINE:

- `prepare(inbox, adapter, event)`: network only: the sender's profile (on follow, on the first
  message, or when a week old) and the media of image/video/audio/file messages.
- `apply(inbox, event, prepared)`: database only, inside the caller's transaction.

What each event does:
- follow → contact is a follower again (blocked_at cleared), profile refreshed, customer found or
  created through CustomerIdentity(kind="line"); follow handlers may answer with the reply token.
- unfollow → blocked_at set: unreachable (pushes are not attempted).
- message (text, image, video, audio, file, location, sticker) → Message(direction=in), media in
  Message.attachment when LINE hosts it (contentProvider.type == "line"); the reply token is kept
  on the conversation for a later free reply; text passes through the message handlers.
- messageEdited / unsend → the recorded message is updated / emptied.
- postback → the postback handler registry (by data prefix), else recorded in the timeline.
- mode "standby" → recorded, no handlers and no reply token (another module answers the chat).
- group and room chats, and every other type (join, leave, memberJoined/Left, beacon,
  videoPlayComplete, accountLink, membership, module, activated, deactivated, botSuspended,
  botResumed, delivery, types LINE adds later) → recorded as ignored, unless a LINE event handler
  is registered for the type (`register_event_handler`).
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from linebot.v3.webhooks import (
    AudioMessageContent,
    FileMessageContent,
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEditedEvent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
    VideoMessageContent,
)

from omo.inbox import ingest
from omo.inbox.models import Contact, Inbox, Message
from omo.platforms.base import InboundEvent, PlatformError, Profile
from omo.platforms.line.adapter import LineAdapter

logger = logging.getLogger(__name__)

PROFILE_MAX_AGE = dt.timedelta(days=7)
DEFAULT_MAX_CONTENT_BYTES = 50 * 1024 * 1024
MEDIA_TYPES = (ImageMessageContent, VideoMessageContent, AudioMessageContent, FileMessageContent)

PROCESSED = "processed"
IGNORED = "ignored"

# LINE-only event types other apps may take over (e.g. "accountLink" for an account-link binding).
LineEventHandler = Callable[[Inbox, InboundEvent], bool]
_event_handlers: dict[str, LineEventHandler] = {}


def register_event_handler(event_type: str, handler: LineEventHandler) -> None:
    """Handle a LINE event type this module ignores; the handler returns False to leave it ignored."""
    _event_handlers[event_type] = handler


@dataclass
class Prepared:
    profile: Profile | None = None
    profile_fetched: bool = False
    content: bytes | None = None
    content_type: str = ""
    content_pending: bool = False  # not ready yet (202) or LINE failed: fetch again in a task
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    status: str  # "processed" | "ignored" (WebhookReceipt.Status values)
    note: str = ""


def _ignored(note: str) -> Outcome:
    return Outcome(IGNORED, note)


# --- phase 1: network ---------------------------------------------------------------------------------


def _needs_profile(inbox: Inbox, event: InboundEvent) -> bool:
    if isinstance(event.model, FollowEvent):
        return True
    if not isinstance(event.model, MessageEvent | PostbackEvent):
        return False
    fetched = (
        Contact.objects.filter(inbox=inbox, external_user_id=event.user_id)
        .values_list("profile_fetched_at", flat=True)
        .first()
    )
    return fetched is None or timezone.now() - fetched > PROFILE_MAX_AGE


def _wants_content(event: InboundEvent) -> bool:
    if not isinstance(event.model, MessageEvent) or not isinstance(event.model.message, MEDIA_TYPES):
        return False
    provider = getattr(event.model.message, "content_provider", None)
    # Files are always on LINE; images, video and audio only when LINE hosts them.
    return provider is None or provider.type == "line"


def prepare(inbox: Inbox, adapter: LineAdapter, event: InboundEvent) -> Prepared:
    prepared = Prepared()
    user_id = event.one_to_one_user_id
    if not event.known or user_id is None:
        return prepared
    if _needs_profile(inbox, event):
        try:
            prepared.profile = adapter.fetch_profile(user_id)
            prepared.profile_fetched = True
        except PlatformError as exc:
            prepared.notes.append(f"profile not fetched: {exc}")
    if _wants_content(event):
        message_id = event.model.message.id
        if Message.objects.filter(brand_id=inbox.brand_id, external_id=message_id).exists():
            return prepared  # already recorded: this is a second look at the same event
        try:
            content = adapter.fetch_content(message_id)
        except PlatformError as exc:
            prepared.content_pending = True
            prepared.notes.append(f"content not fetched yet: {exc}")
            return prepared
        max_bytes = int(getattr(settings, "OMO_LINE_MAX_CONTENT_BYTES", DEFAULT_MAX_CONTENT_BYTES))
        if content is None:
            prepared.notes.append("content no longer available")
        elif not content.ready:
            prepared.content_pending = True
        elif len(content.data) > max_bytes:
            prepared.notes.append(f"content of {len(content.data)} bytes not stored (limit {max_bytes})")
        else:
            prepared.content, prepared.content_type = content.data, content.content_type
    return prepared


# --- phase 2: database ---------------------------------------------------------------------------------


def _contact(inbox: Inbox, user_id: str, prepared: Prepared) -> Contact:
    profile = prepared.profile
    fetched_at = timezone.now() if prepared.profile_fetched else None
    return ingest.get_or_create_contact(
        inbox,
        user_id,
        display_name=profile.display_name if profile else "",
        picture_url=profile.picture_url if profile else "",
        language=profile.language if profile else "",
        profile_fetched_at=fetched_at if profile else None,
    )


def message_fields(content: Any) -> tuple[str, str, dict[str, Any]]:
    """(Message.kind, text, payload) for a LINE message content object: the fields worth keeping."""
    raw = content.to_dict()
    payload = {key: value for key, value in raw.items() if key not in ("id", "type")}
    if isinstance(content, TextMessageContent):
        return Message.Kind.TEXT, content.text, payload
    if isinstance(content, ImageMessageContent):
        return Message.Kind.IMAGE, "", payload
    if isinstance(content, VideoMessageContent):
        return Message.Kind.VIDEO, "", payload
    if isinstance(content, AudioMessageContent):
        return Message.Kind.AUDIO, "", payload
    if isinstance(content, FileMessageContent):
        return Message.Kind.FILE, content.file_name, payload
    if isinstance(content, LocationMessageContent):
        return Message.Kind.LOCATION, content.title or content.address or "", payload
    if isinstance(content, StickerMessageContent):
        return Message.Kind.STICKER, content.text or "", payload
    raise ValueError(f"unsupported LINE message type {raw.get('type')!r}")


def attachment_name(inbox: Inbox, message_id: str, content_type: str, file_name: str = "") -> str:
    extension = ""
    if file_name and "." in file_name:
        extension = "." + file_name.rsplit(".", 1)[1][:10]
    else:
        extension = mimetypes.guess_extension(content_type or "") or ".bin"
    return f"line/{inbox.pk}/{message_id}{extension}"


def _occurred(event: InboundEvent) -> dt.datetime:
    return event.occurred_at or timezone.now()


def apply(inbox: Inbox, event: InboundEvent, prepared: Prepared) -> Outcome:
    """Run the domain steps for one event; call inside a transaction."""
    if not event.known:
        return _ignored(event.problem or f"unknown LINE event type {event.event_type!r}")
    custom = _event_handlers.get(event.event_type)
    if custom is not None and custom(inbox, event):
        return Outcome(PROCESSED, f"handled by {event.event_type} handler")
    if event.source_type in ("group", "room"):
        return _ignored(f"{event.event_type} in a {event.source_type} chat: omo serves 1:1 chats only")
    model = event.model
    user_id = event.one_to_one_user_id
    if user_id is None:
        return _ignored(f"{event.event_type} without a user")
    if isinstance(model, FollowEvent):
        contact = _contact(inbox, user_id, prepared)
        applied = ingest.receive_follow(
            inbox,
            contact,
            occurred_at=_occurred(event),
            unblocked=bool(model.follow.is_unblocked),
            reply_token=None if event.standby else event.reply_token,
            handlers=not event.standby,
        )
        return Outcome(PROCESSED, "" if applied else "a later unfollow was already recorded")
    if isinstance(model, UnfollowEvent):
        contact = _contact(inbox, user_id, prepared)
        applied = ingest.receive_unfollow(contact, occurred_at=_occurred(event))
        return Outcome(PROCESSED, "" if applied else "a later follow was already recorded")
    if isinstance(model, MessageEvent):
        return _message(inbox, event, user_id, prepared)
    if isinstance(model, MessageEditedEvent):
        if not isinstance(model.message, TextMessageContent):
            return _ignored("edit of a non-text message")
        # Scoped to this inbox: an edit never reaches a message another inbox (account) received.
        found = ingest.record_edit(inbox, model.message.id, text=model.message.text, at=_occurred(event))
        if found:
            return Outcome(PROCESSED)
        return _message(
            inbox, event, user_id, prepared
        )  # the original never reached us: keep the latest text
    if isinstance(model, UnsendEvent):
        found = ingest.mark_unsent(inbox, model.unsend.message_id, at=_occurred(event))
        return Outcome(PROCESSED, "" if found else "unsent message was never recorded")
    if isinstance(model, PostbackEvent):
        contact = _contact(inbox, user_id, prepared)
        claimed = ingest.receive_postback(
            inbox,
            contact,
            data=model.postback.data,
            params=dict(model.postback.params or {}),
            occurred_at=_occurred(event),
            reply_token=None if event.standby else event.reply_token,
            handlers=not event.standby,
        )
        return Outcome(PROCESSED, "claimed by a postback handler" if claimed else "recorded")
    return _ignored(f"{event.event_type}: nothing to do")


def _message(inbox: Inbox, event: InboundEvent, user_id: str, prepared: Prepared) -> Outcome:
    from omo.platforms.tasks import fetch_message_content

    content = event.model.message
    try:
        kind, text, payload = message_fields(content)
    except ValueError as exc:
        return _ignored(str(exc))
    payload["line"] = {
        "webhookEventId": event.event_id,
        "timestamp": event.raw.get("timestamp"),
        "mode": "standby" if event.standby else "active",
    }
    if prepared.notes:
        payload["notes"] = prepared.notes
    attachment = None
    if prepared.content is not None:
        name = attachment_name(
            inbox, content.id, prepared.content_type, getattr(content, "file_name", "") or ""
        )
        attachment = (name, prepared.content)
        payload["content_type"] = prepared.content_type
    contact = _contact(inbox, user_id, prepared)
    message = ingest.receive_message(
        inbox,
        contact,
        kind=kind,
        occurred_at=_occurred(event),
        external_id=content.id,
        text=text,
        payload=payload,
        attachment=attachment,
        reply_token=None if event.standby else event.reply_token,
        handlers=not event.standby,
    )
    if not message.is_new:
        return Outcome(PROCESSED, "message already recorded")
    if prepared.content_pending:
        transaction.on_commit(lambda: fetch_message_content.enqueue(message.pk))
    return Outcome(PROCESSED, "standby: recorded only" if event.standby else "")
