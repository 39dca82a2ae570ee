"""Inbox verbs for staff: send, notes, labels, canned replies, read state, assignment.

Thin edges (clerk app, console, API, sockets) check the user can see the conversation through
these verbs; each raises InboxError(field, message, status) on bad input or a refused action.
Sending itself is omo.inbox.outbound.queue_message (the LINE engineer's delivery policy).
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from omo.binding.selectors import current_binding
from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.customers.models import Customer
from omo.inbox import routing, selectors
from omo.inbox.models import CannedReply, Conversation, Inbox, Message
from omo.staff.models import Store, User
from omo.staff.roles import Role

CANNED_VARIABLES = frozenset({"customer_name", "clerk_name", "store_name"})
MAX_LABELS = 20
MAX_LABEL_LENGTH = 30
MAX_NOTE = 5000


class InboxError(FieldError, ValueError):
    status = 400


def _visible(conversation: Conversation, user: selectors.Viewer) -> None:
    if not selectors.can_view(user, conversation):
        raise InboxError("conversation", "no such conversation", status=404)


def _acting(who: User | Actor, conversation: Conversation) -> Actor:
    """The Actor behind a signed-in staff user or an API key, refused (404) unless it sees the conversation."""
    actor = selectors._actor(who)
    if actor is None or not selectors.can_view(actor, conversation):
        raise InboxError("conversation", "no such conversation", status=404)
    return actor


def person_of(actor: Actor) -> User | None:
    """The staff member an actor acts as: the signed-in user, or the clerk of a clerk's API key;
    None for a brand-wide or store key (the brand acts)."""
    if actor.user is not None:
        return actor.user
    if actor.api_key is not None and actor.api_key.staff_id:
        return User.objects.filter(pk=actor.api_key.staff_id, brand_id=actor.brand.pk).first()
    return None


def _name(actor: Actor, person: User | None) -> str:
    """Who acted, as the timeline shows it."""
    if person is not None:
        return str(person)
    if actor.api_key is not None:
        return f"API 金鑰 {actor.api_key.name} / API key {actor.api_key.name}"
    return "系統 / system"


def _updated(conversation: Conversation, *fields: str) -> None:
    events.publish(
        "conversation.updated",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        fields=list(fields),
    )


# --- routing entry points (called by binding and ingest) ---------------------------------------


def route_customer(customer: Customer) -> list[routing.Decision]:
    """Route the customer's conversations again (their binding changed)."""
    return routing.reroute_customer(customer)


@transaction.atomic
def hand_customer_to_store(customer: Customer, store: Store) -> None:
    """The store team owns this customer's conversations (transfer to store, departed clerk's code)."""
    now = timezone.now()
    for conversation in Conversation.objects.filter(
        brand_id=customer.brand_id, customer=customer
    ).select_related("customer"):
        decision = routing.decide(conversation, now)
        if decision.queue != Conversation.Queue.CLERK:  # a still-bound active clerk keeps the customer
            open_now = routing.store_is_open(store, now)
            decision = routing.Decision(
                Conversation.Queue.STORE if open_now else Conversation.Queue.HQ,
                None,
                store.pk,
                "store_owned" if open_now else "store_closed",
            )
        routing.assign(conversation, decision, now=now)


# --- messages, notes, read state --------------------------------------------------------------


def send_text(conversation: Conversation, *, text: str, sender: Any) -> Message:
    """A staff member answers the customer (the customer stops waiting; unread is cleared)."""
    from omo.inbox.outbound import OutboundError, queue_message

    _visible(conversation, sender)
    try:
        with transaction.atomic():
            message = queue_message(conversation, kind=Message.Kind.TEXT, text=text, sender=sender)
            _clear_unread(conversation)
    except OutboundError as exc:
        raise InboxError(exc.field, exc.message) from exc
    return message


@transaction.atomic
def add_note(conversation: Conversation, *, text: str, author: User | Actor) -> Message:
    """An internal note (內部備註): staff only, never sent to the customer. An API key's note has
    no author but carries the key (payload `api_key_id`); a clerk's key writes as the clerk."""
    actor = _acting(author, conversation)
    person = person_of(actor)
    text = (text or "").strip()
    if not text:
        raise InboxError("text", "a note needs text")
    if len(text) > MAX_NOTE:
        raise InboxError("text", f"at most {MAX_NOTE} characters")
    note = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=Message.Direction.INTERNAL,
        kind=Message.Kind.NOTE,
        text=text,
        payload={"api_key_id": actor.api_key.pk} if actor.api_key is not None else {},
        status=Message.Status.SENT,
        sender=person,
    )
    events.publish(
        "message.created",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        message_id=note.pk,
        direction=Message.Direction.INTERNAL,
    )
    return note


def _clear_unread(conversation: Conversation) -> None:
    if Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0):
        conversation.unread_count = 0
        _updated(conversation, "unread_count")


@transaction.atomic
def mark_read(conversation: Conversation, *, user: User) -> Conversation:
    _visible(conversation, user)
    _clear_unread(conversation)
    return conversation


def _clean_labels(labels: Any) -> list[str]:
    if not isinstance(labels, list | tuple):
        raise InboxError("labels", "give a list of labels")
    cleaned: list[str] = []
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise InboxError("labels", "a label must be non-empty text")
        label = label.strip()
        if len(label) > MAX_LABEL_LENGTH:
            raise InboxError("labels", f"a label has at most {MAX_LABEL_LENGTH} characters")
        if label not in cleaned:
            cleaned.append(label)
    if len(cleaned) > MAX_LABELS:
        raise InboxError("labels", f"at most {MAX_LABELS} labels")
    return cleaned


@transaction.atomic
def set_labels(conversation: Conversation, labels: list[str], *, user: User) -> list[str]:
    _visible(conversation, user)
    cleaned = _clean_labels(labels)
    Conversation.objects.filter(pk=conversation.pk).update(labels=cleaned)
    conversation.labels = cleaned
    _updated(conversation, "labels")
    return cleaned


def add_label(conversation: Conversation, label: str, *, user: User) -> list[str]:
    return set_labels(conversation, [*(conversation.labels or []), label], user=user)


def remove_label(conversation: Conversation, label: str, *, user: User) -> list[str]:
    return set_labels(conversation, [x for x in conversation.labels or [] if x != label], user=user)


# --- canned replies ----------------------------------------------------------------------------


def _check_template(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InboxError("body", "a canned reply needs text")
    if len(body) > 5000:
        raise InboxError("body", "at most 5000 characters")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(body) if name is not None}
    except ValueError as exc:
        raise InboxError("body", f"broken braces: {exc}") from exc
    unknown = names - CANNED_VARIABLES
    if unknown:
        raise InboxError("body", f"unknown variable {{{sorted(unknown)[0]}}}; use {sorted(CANNED_VARIABLES)}")
    return body


@transaction.atomic
def save_canned_reply(
    user: User,
    *,
    title: str,
    body: str,
    shortcut: str = "",
    personal: bool = True,
    canned: CannedReply | None = None,
) -> CannedReply:
    """Create or update a canned reply. Brand-wide ones (personal=False) are for HQ admins and store managers."""
    if not selectors._is_staff(user):
        raise InboxError("user", "sign in as the brand's staff", status=403)
    if not personal and user.role not in (Role.HQ_ADMIN, Role.STORE_MANAGER):
        raise InboxError(
            "personal", "only HQ admins and store managers write brand-wide canned replies", status=403
        )
    title = (title or "").strip()
    if not title or len(title) > 80:
        raise InboxError("title", "a title of 1 to 80 characters")
    if len(shortcut or "") > 30:
        raise InboxError("shortcut", "at most 30 characters")
    body = _check_template(body)
    if canned is None:
        canned = CannedReply(brand_id=user.brand_id, owner=user if personal else None)
    elif (
        canned.brand_id != user.brand_id
        or (canned.owner_id not in (None, user.pk))
        or (canned.owner_id is None and user.role not in (Role.HQ_ADMIN, Role.STORE_MANAGER))
    ):
        raise InboxError("canned", "no such canned reply", status=404)
    canned.title, canned.body, canned.shortcut = title, body, (shortcut or "").strip()
    canned.save()
    return canned


def render_canned_reply(canned: CannedReply, conversation: Conversation, *, user: User) -> str:
    """The body with {customer_name}, {clerk_name} (the bound clerk, else the sender) and {store_name}."""
    if canned.brand_id != conversation.brand_id:
        raise InboxError("canned", "no such canned reply", status=404)
    binding = current_binding(conversation.customer)
    clerk = binding.clerk if binding is not None else user
    store = getattr(clerk, "store", None) or conversation.store
    values = {
        "customer_name": conversation.customer.name or str(conversation.contact),
        "clerk_name": str(clerk) if clerk is not None else "",
        "store_name": store.name if store is not None else "",
    }
    return canned.body.format(**values)


def send_canned_reply(conversation: Conversation, canned: CannedReply, *, sender: Any) -> Message:
    if not selectors.canned_replies(sender).filter(pk=canned.pk).exists():
        raise InboxError("canned", "no such canned reply", status=404)
    return send_text(conversation, text=render_canned_reply(canned, conversation, user=sender), sender=sender)


# --- assignment by staff -----------------------------------------------------------------------


def assign_conversation(
    conversation: Conversation,
    *,
    actor_user: User | Actor,
    queue: str,
    assignee: User | None = None,
    store: Store | None = None,
) -> bool:
    """Manual assignment (HQ anywhere in the brand; a store manager within their store), by a
    signed-in staff member or an API key of those roles."""
    actor = _acting(actor_user, conversation)
    brand_id = actor.brand.pk
    if actor.role not in (Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER):
        raise InboxError("actor", "clerks cannot reassign conversations", status=403)
    if queue not in Conversation.Queue.values:
        raise InboxError("queue", f"one of {Conversation.Queue.values}")
    if queue == Conversation.Queue.CLERK:
        if assignee is None or assignee.brand_id != brand_id or not assignee.is_active:
            raise InboxError("assignee", "an active staff member of this brand", status=404)
        store = assignee.store
    if store is not None and store.brand_id != brand_id:
        raise InboxError("store", "no such store", status=404)
    if actor.role == Role.STORE_MANAGER and getattr(store, "pk", None) != actor.store_id:
        raise InboxError("store", "a store manager assigns within their own store", status=403)
    decision = routing.Decision(
        queue,
        assignee.pk if queue == Conversation.Queue.CLERK and assignee is not None else None,
        getattr(store, "pk", None),
        "manual",
    )
    return routing.assign(conversation, decision, actor_user=person_of(actor))


def staff_on_duty(store: Store, at: dt.datetime | None = None) -> list[User]:
    """Who of the store is on duty now (the store team view)."""
    at = at or timezone.now()
    staff = User.objects.filter(brand_id=store.brand_id, store=store, is_active=True).filter(
        Q(role=Role.CLERK) | Q(role=Role.STORE_MANAGER)
    )
    return [person for person in staff if routing.on_duty(person, at)]


# --- console verbs: close/reopen, audited assignment, canned reply removal -----------------------

STATUS_EVENTS = {
    Conversation.Status.RESOLVED: ("closed", "已結案 / closed"),
    Conversation.Status.OPEN: ("reopened", "重新開啟 / reopened"),
}


@transaction.atomic
def set_conversation_status(conversation: Conversation, status: str, *, user: User | Actor) -> bool:
    """Close (resolved) or reopen a conversation; the change is written in its timeline and the
    audit log. True if changed."""
    actor = _acting(user, conversation)
    person = person_of(actor)
    if status not in Conversation.Status.values:
        raise InboxError("status", f"one of {Conversation.Status.values}")
    if not Conversation.objects.filter(pk=conversation.pk).exclude(status=status).update(status=status):
        return False
    conversation.status = status
    event, words = STATUS_EVENTS[Conversation.Status(status)]
    note = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=Message.Direction.INTERNAL,
        kind=Message.Kind.EVENT,
        text=f"{words}（{_name(actor, person)}）",
        payload={"event": event, "actor_id": person.pk if person is not None else None},
        status=Message.Status.SENT,
        sender=person,
    )
    events.publish(
        "message.created",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        message_id=note.pk,
        direction=Message.Direction.INTERNAL,
    )
    _updated(conversation, "status")
    action = "inbox.conversation_closed" if event == "closed" else "inbox.conversation_reopened"
    audit.record(actor, action, conversation)
    return True


HQ_ROLES = (Role.HQ_ADMIN, Role.HQ_AGENT)


def assign_by_staff(
    conversation: Conversation,
    *,
    actor: Actor,
    queue: str,
    assignee: User | None = None,
    store: Store | None = None,
) -> bool:
    """Manual assignment with an audit entry: to HQ (optionally one HQ agent), a store team or a clerk.

    The HQ queue keeps the conversation's owning store unless another is given, so the store's
    manager still sees the customer while HQ answers. Other rules are assign_conversation's.
    """
    with transaction.atomic():
        before = (
            Conversation.objects.filter(pk=conversation.pk)
            .values_list("queue", "assignee_id", "store_id")
            .first()
        )
        if queue == Conversation.Queue.HQ:
            _acting(actor, conversation)
            if store is None and conversation.store_id:
                store = conversation.store
            if assignee is not None:
                brand_id = actor.brand.pk
                if actor.role not in HQ_ROLES:
                    raise InboxError("assignee", "only HQ staff pick an HQ agent", status=403)
                if assignee.brand_id != brand_id or not assignee.is_active or assignee.role not in HQ_ROLES:
                    raise InboxError("assignee", "an active HQ agent of this brand", status=404)
                if store is not None and store.brand_id != brand_id:
                    raise InboxError("store", "no such store", status=404)
                decision = routing.Decision(queue, assignee.pk, getattr(store, "pk", None), "manual")
                changed = routing.assign(conversation, decision, actor_user=person_of(actor))
            else:
                changed = assign_conversation(conversation, actor_user=actor, queue=queue, store=store)
        else:
            changed = assign_conversation(
                conversation, actor_user=actor, queue=queue, assignee=assignee, store=store
            )
        if changed:
            audit.record(
                actor,
                "inbox.conversation_assigned",
                conversation,
                queue=conversation.queue,
                assignee=conversation.assignee_id,
                store=conversation.store_id,
                previous={"queue": before[0], "assignee": before[1], "store": before[2]} if before else None,
            )
    return changed


@transaction.atomic
def delete_canned_reply(canned: CannedReply, *, user: User) -> None:
    """Remove a canned reply: a personal one by its owner, a brand-wide one by whoever may write those."""
    if (
        not selectors._is_staff(user)
        or canned.brand_id != user.brand_id
        or canned.owner_id not in (None, user.pk)
    ):
        raise InboxError("canned", "no such canned reply", status=404)
    if canned.owner_id is None and user.role not in (Role.HQ_ADMIN, Role.STORE_MANAGER):
        raise InboxError(
            "personal", "only HQ admins and store managers remove brand-wide canned replies", status=403
        )
    canned.delete()


# --- connected accounts (the platforms app checks them against the platform first) ---------------

INBOX_FIELDS = frozenset(
    {"name", "external_id", "handle", "bot_user_id", "secrets", "config", "is_active", "quota_exhausted_at"}
)


def create_inbox(brand: Any, *, platform: str, **fields: Any) -> Inbox:
    """A new connected account row. The caller (omo.platforms) has checked it and audits it."""
    unknown = set(fields) - INBOX_FIELDS
    if unknown:
        raise InboxError(sorted(unknown)[0], "cannot be set")
    return Inbox.objects.create(brand=brand, platform=platform, **fields)


def update_inbox(inbox: Inbox, **fields: Any) -> Inbox:
    """Change a connected account row (within the caller's transaction)."""
    unknown = set(fields) - INBOX_FIELDS
    if unknown:
        raise InboxError(sorted(unknown)[0], "cannot be changed")
    for name, value in fields.items():
        setattr(inbox, name, value)
    inbox.save(update_fields=sorted(fields))
    return inbox


def record_signature_failure(inbox_id: int, at: dt.datetime | None = None) -> None:
    """The edge refused a webhook of this inbox for a wrong signature (a wrong channel secret, or
    someone else's request): kept as the inbox's last signature failure, shown on its page."""
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().filter(pk=inbox_id).only("id", "config").first()
        if inbox is None:
            return
        config = dict(inbox.config or {})
        config["signature_failed_at"] = (at or timezone.now()).isoformat()
        # update(), not save(): no post_save, so the edge keeps its cached credentials.
        Inbox.objects.filter(pk=inbox_id).update(config=config)
