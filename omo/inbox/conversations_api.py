"""REST endpoints for conversations: list and read them, read and send messages, notes, assign,
close and reopen (docs/conversations-api.md).

Every read starts from `visible_conversations(actor)`, the rule the console, the clerk app and the
sockets share: HQ keys see the brand's conversations, a store manager's key its store's, a clerk's
key those of the clerk's own customers (as the clerk app shows them). Sending goes through
omo.inbox.sending (the outbound path every message takes), the rest through omo.inbox.services.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Header, Query, Router, Schema, Status
from pydantic import Field

from omo.core.api import ApiError, ErrorOut, PageParams, actor_of, allow, aware, get_or_404, page
from omo.core.audit import Actor
from omo.inbox import selectors, sending, services
from omo.inbox.models import Conversation
from omo.staff.models import User

router = Router(tags=["conversations"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_MESSAGES = 200

IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=120,
    description="send the same key again (e.g. on a retry) to get the first message back instead of a second one",
)

# The API says open / closed; the inbox stores a closed conversation as "resolved".
API_STATUS = {Conversation.Status.OPEN: "open", Conversation.Status.RESOLVED: "closed"}


class ConversationStatusFilter(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


class MessagePurpose(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


# --- shapes -----------------------------------------------------------------------------------


class ConversationOut(Schema):
    id: int
    inbox_id: int
    platform: str = Field(..., description="line, messenger, instagram, whatsapp or webchat")
    customer_id: int
    contact_name: str = Field(..., description="the customer's name on the platform")
    status: str = Field(..., description="open or closed")
    queue: str = Field(..., description="who handles it: clerk (bound clerk), store (store team) or hq")
    assignee_id: int | None
    store_id: int | None = Field(..., description="the store that owns the customer, if any")
    labels: list[str]
    unread_count: int
    last_message_at: dt.datetime | None
    last_message_preview: str
    waiting_since: dt.datetime | None = Field(..., description="oldest unanswered customer message")
    sla_due_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime = Field(..., description="latest message, note, assignment or status change")


class ConversationPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ConversationOut]


class ConversationFilters(Schema):
    status: ConversationStatusFilter = Field(ConversationStatusFilter.ALL)
    assignee: int | None = Field(None, description="staff id the conversation is assigned to")
    store: int | None = Field(None, description="store id that owns the conversation")
    inbox: int | None = Field(None, description="inbox (connected account) id")
    customer: int | None = Field(None, description="customer id")
    updated_since: dt.datetime | None = Field(
        None, description="only conversations updated at or after this time (no offset: the brand's zone)"
    )


class ConversationMessageOut(Schema):
    id: int
    conversation_id: int
    direction: str = Field(..., description="in (customer), out (to the customer) or internal (note, event)")
    kind: str = Field(..., description="text, flex (product card), image, …, note or event")
    text: str
    payload: dict[str, Any] = Field(..., description="a card's `cards` and `alt_text`; an event's details")
    status: str = Field(..., description="received, queued, sent or failed")
    failure_reason: str
    sent_via: str = Field(..., description="reply (free LINE reply token) or push; empty until sent")
    sender_id: int | None = Field(
        ..., description="the staff member who wrote it; null: the brand or the customer"
    )
    created_at: dt.datetime
    sent_at: dt.datetime | None


class ConversationMessagePage(Schema):
    limit: int
    has_more: bool = Field(
        ..., description="more messages lie beyond this page: newer ones with `after`, else older ones"
    )
    items: list[ConversationMessageOut]


class ConversationMessageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_MESSAGES, description=f"messages per page, at most {MAX_MESSAGES}")
    before: int | None = Field(None, ge=1, description="message id: the latest messages before it")
    after: int | None = Field(None, ge=1, description="message id: the first messages after it")


class ConversationMessageIn(Schema):
    text: str = Field("", max_length=5000, description="a text message; or give product_ids / variant_ids")
    product_ids: list[int] = Field(
        default_factory=list, max_length=10, description="a product card: one bubble per product"
    )
    variant_ids: list[int] = Field(
        default_factory=list, max_length=10, description="a product card: one bubble per variant"
    )
    alt_text: str = Field("", max_length=400, description="a card's notification text")
    as_staff: int | None = Field(
        None, description="send as this staff member (an HQ key, or that staff member's own key)"
    )
    purpose: MessagePurpose | None = Field(
        None, description="for a message the brand starts: checked against the customer's consent"
    )


class ConversationNoteIn(Schema):
    text: str = Field(..., min_length=1, max_length=services.MAX_NOTE)


class ConversationAssignIn(Schema):
    staff_id: int | None = Field(
        ..., description="an HQ agent, a store manager or a clerk of the brand; null: back to the HQ queue"
    )


# --- helpers ----------------------------------------------------------------------------------


def conversation_out(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "inbox_id": conversation.inbox_id,
        "platform": conversation.inbox.platform,
        "customer_id": conversation.customer_id,
        "contact_name": str(conversation.contact),
        "status": API_STATUS.get(Conversation.Status(conversation.status), conversation.status),
        "queue": conversation.queue,
        "assignee_id": conversation.assignee_id,
        "store_id": conversation.store_id,
        "labels": list(conversation.labels or []),
        "unread_count": conversation.unread_count,
        "last_message_at": conversation.last_message_at,
        "last_message_preview": conversation.last_message_preview,
        "waiting_since": conversation.waiting_since,
        "sla_due_at": conversation.sla_due_at,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,  # type: ignore[attr-defined]
    }


def _visible(actor: Actor) -> QuerySet[Conversation]:
    return selectors.with_updated_at(
        selectors.visible_conversations(actor).select_related("inbox", "contact", "store")
    )


def _conversation(actor: Actor, conversation_id: int) -> Conversation:
    return get_or_404(_visible(actor), f"conversation {conversation_id}", pk=conversation_id)


def _out(actor: Actor, conversation_id: int) -> dict[str, Any]:
    """The conversation as it is now (after a change: every change the API makes keeps it in the
    actor's sight; a store manager's handover to HQ keeps the store)."""
    return conversation_out(_conversation(actor, conversation_id))


# --- endpoints --------------------------------------------------------------------------------


@router.get("/conversations", auth=allow("conversations.read"), response={200: ConversationPage, **ERRORS})
def list_conversations(
    request: HttpRequest, filters: Query[ConversationFilters], paging: Query[PageParams]
) -> dict[str, Any]:
    """The conversations this key sees, latest update first."""
    actor = actor_of(request)
    conversations = _visible(actor)
    if filters.status == ConversationStatusFilter.OPEN:
        conversations = conversations.filter(status=Conversation.Status.OPEN)
    elif filters.status == ConversationStatusFilter.CLOSED:
        conversations = conversations.filter(status=Conversation.Status.RESOLVED)
    if filters.assignee is not None:
        conversations = conversations.filter(assignee_id=filters.assignee)
    if filters.store is not None:
        conversations = conversations.filter(store_id=filters.store)
    if filters.inbox is not None:
        conversations = conversations.filter(inbox_id=filters.inbox)
    if filters.customer is not None:
        conversations = conversations.filter(customer_id=filters.customer)
    if filters.updated_since is not None:
        since = aware(filters.updated_since, actor)
        conversations = conversations.filter(updated_at__gte=since)  # type: ignore[misc]  # annotated
    newest_first = conversations.order_by("-updated_at", "-id")  # type: ignore[misc]  # annotated
    return page(newest_first, paging, conversation_out)


@router.get(
    "/conversations/{conversation_id}",
    auth=allow("conversations.read"),
    response={200: ConversationOut, **ERRORS},
)
def get_conversation(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    return _out(actor_of(request), conversation_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    auth=allow("conversations.read"),
    response={200: ConversationMessagePage, **ERRORS},
)
def list_messages(
    request: HttpRequest, conversation_id: int, params: Query[ConversationMessageParams]
) -> dict[str, Any]:
    """Messages in the order omo recorded them (ascending id), internal notes and events included.
    Without a cursor: the latest `limit`. `before=<id>`: the `limit` before that message (scroll
    back). `after=<id>`: the `limit` right after it (read what is new)."""
    conversation = _conversation(actor_of(request), conversation_id)
    if params.before is not None and params.after is not None:
        raise ApiError(422, "invalid", "give before or after, not both", field="after")
    rows, has_more = selectors.message_page(
        conversation, limit=params.limit, before=params.before, after=params.after
    )
    return {"limit": params.limit, "has_more": has_more, "items": rows}


@router.post(
    "/conversations/{conversation_id}/messages",
    auth=allow("conversations.reply"),
    response={200: ConversationMessageOut, 201: ConversationMessageOut, **ERRORS},
)
def send_message(
    request: HttpRequest,
    conversation_id: int,
    data: ConversationMessageIn,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Send a text or one product card (up to 10 products or variants, each button a tracked link).
    It is queued (201, status `queued`) and delivered in the background; read its status from the
    messages list. A repeat with the same `Idempotency-Key` answers 200 with the first message."""
    actor = actor_of(request)
    sent = sending.send_message(
        _conversation(actor, conversation_id),
        actor=actor,
        as_staff=data.as_staff,
        text=data.text,
        product_ids=data.product_ids,
        variant_ids=data.variant_ids,
        alt_text=data.alt_text,
        purpose=data.purpose.value if data.purpose else None,
        idempotency_key=idempotency_key or "",
    )
    return Status(201 if sent.created else 200, sent.message)


@router.post(
    "/conversations/{conversation_id}/notes",
    auth=allow("conversations.reply"),
    response={201: ConversationMessageOut, **ERRORS},
)
def add_note(request: HttpRequest, conversation_id: int, data: ConversationNoteIn):
    """An internal note (內部備註) for the staff: never sent to the customer."""
    actor = actor_of(request)
    note = services.add_note(_conversation(actor, conversation_id), text=data.text, author=actor)
    return Status(201, note)


@router.post(
    "/conversations/{conversation_id}/assign",
    auth=allow("conversations.manage"),
    response={200: ConversationOut, **ERRORS},
)
def assign(request: HttpRequest, conversation_id: int, data: ConversationAssignIn) -> dict[str, Any]:
    """Hand the conversation to one staff member (an HQ agent in the HQ queue; a clerk or store
    manager with their store), or with `null` back to the HQ queue (its store kept). A store
    manager's key assigns within its store only. Audited."""
    actor = actor_of(request)
    conversation = _conversation(actor, conversation_id)
    if data.staff_id is None:
        services.assign_by_staff(conversation, actor=actor, queue=Conversation.Queue.HQ)
        return _out(actor, conversation.pk)
    staff = User.objects.filter(brand_id=actor.brand.pk, pk=data.staff_id).select_related("store").first()
    if staff is None:
        raise ApiError(404, "not_found", f"staff {data.staff_id} not found", field="staff_id")
    if not staff.is_active:
        raise ApiError(422, "invalid", f"staff {data.staff_id} is deactivated", field="staff_id")
    queue = Conversation.Queue.HQ if staff.role in services.HQ_ROLES else Conversation.Queue.CLERK
    try:
        services.assign_by_staff(conversation, actor=actor, queue=queue, assignee=staff)
    except services.InboxError as exc:
        if exc.field in ("assignee", "store"):
            exc.field = "staff_id"
        raise
    return _out(actor, conversation.pk)


@router.post(
    "/conversations/{conversation_id}/close",
    auth=allow("conversations.manage"),
    response={200: ConversationOut, **ERRORS},
)
def close(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    """Close the conversation (already closed: nothing changes). A new customer message does not
    reopen it by itself; sending to it needs a reopen first."""
    actor = actor_of(request)
    conversation = _conversation(actor, conversation_id)
    services.set_conversation_status(conversation, Conversation.Status.RESOLVED, user=actor)
    return _out(actor, conversation.pk)


@router.post(
    "/conversations/{conversation_id}/reopen",
    auth=allow("conversations.manage"),
    response={200: ConversationOut, **ERRORS},
)
def reopen(request: HttpRequest, conversation_id: int) -> dict[str, Any]:
    """Open a closed conversation again (already open: nothing changes)."""
    actor = actor_of(request)
    conversation = _conversation(actor, conversation_id)
    services.set_conversation_status(conversation, Conversation.Status.OPEN, user=actor)
    return _out(actor, conversation.pk)
