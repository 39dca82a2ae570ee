"""Inbox verbs for staff: send, notes, labels, canned replies, read state, assignment, roster.

Thin edges (clerk app, console, API, sockets) check the user can see the conversation through
these verbs; each raises InboxError(field, message, status) on bad input or a refused action.
Sending itself is omo.inbox.outbound.queue_message (the LINE engineer's delivery policy).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import string
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from omo.core import audit, events
from omo.core.audit import Actor
from omo.inbox import routing, selectors
from omo.inbox.models import CannedReply, Conversation, Message, Shift
from omo.staff.roles import Role

CANNED_VARIABLES = frozenset({"customer_name", "clerk_name", "store_name"})
MAX_LABELS = 20
MAX_LABEL_LENGTH = 30
MAX_NOTE = 5000


class InboxError(ValueError):
    def __init__(self, field: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def _visible(conversation: Conversation, user: Any) -> None:
    if not selectors.can_view(user, conversation):
        raise InboxError("conversation", "no such conversation", status=404)


def _updated(conversation: Conversation, *fields: str) -> None:
    events.publish(
        "conversation.updated",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        fields=list(fields),
    )


# --- routing entry points (called by binding and ingest) ---------------------------------------


def route_customer(customer: Any) -> list[routing.Decision]:
    """Route the customer's conversations again (their binding changed)."""
    return routing.reroute_customer(customer)


@transaction.atomic
def hand_customer_to_store(customer: Any, store: Any) -> None:
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
def add_note(conversation: Conversation, *, text: str, author: Any) -> Message:
    """An internal note (內部備註): staff only, never sent to the customer."""
    _visible(conversation, author)
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
        status=Message.Status.SENT,
        sender=author,
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
def mark_read(conversation: Conversation, *, user: Any) -> Conversation:
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
def set_labels(conversation: Conversation, labels: list[str], *, user: Any) -> list[str]:
    _visible(conversation, user)
    cleaned = _clean_labels(labels)
    Conversation.objects.filter(pk=conversation.pk).update(labels=cleaned)
    conversation.labels = cleaned
    _updated(conversation, "labels")
    return cleaned


def add_label(conversation: Conversation, label: str, *, user: Any) -> list[str]:
    return set_labels(conversation, [*(conversation.labels or []), label], user=user)


def remove_label(conversation: Conversation, label: str, *, user: Any) -> list[str]:
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
    user: Any,
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


def render_canned_reply(canned: CannedReply, conversation: Conversation, *, user: Any) -> str:
    """The body with {customer_name}, {clerk_name} (the bound clerk, else the sender) and {store_name}."""
    from omo.binding.selectors import current_binding

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
    conversation: Conversation, *, actor_user: Any, queue: str, assignee: Any = None, store: Any = None
) -> bool:
    """Manual assignment (HQ anywhere in the brand; a store manager within their store)."""
    _visible(conversation, actor_user)
    if actor_user.role not in (Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER):
        raise InboxError("actor", "clerks cannot reassign conversations", status=403)
    if queue not in Conversation.Queue.values:
        raise InboxError("queue", f"one of {Conversation.Queue.values}")
    if queue == Conversation.Queue.CLERK:
        if assignee is None or assignee.brand_id != actor_user.brand_id or not assignee.is_active:
            raise InboxError("assignee", "an active staff member of this brand", status=404)
        store = assignee.store
    if store is not None and store.brand_id != actor_user.brand_id:
        raise InboxError("store", "no such store", status=404)
    if actor_user.role == Role.STORE_MANAGER and getattr(store, "pk", None) != actor_user.store_id:
        raise InboxError("store", "a store manager assigns within their own store", status=403)
    decision = routing.Decision(
        queue,
        assignee.pk if queue == Conversation.Queue.CLERK else None,
        getattr(store, "pk", None),
        "manual",
    )
    return routing.assign(conversation, decision, actor_user=actor_user)


# --- roster ------------------------------------------------------------------------------------


def _check_roster(actor: Actor, staff: Any, store: Any) -> None:
    if staff is None or staff.brand_id != actor.brand.pk:
        raise InboxError("staff", "no such staff member in this brand", status=404)
    if store is None or store.brand_id != actor.brand.pk:
        raise InboxError("store", "no such store in this brand", status=404)
    if actor.role == Role.HQ_ADMIN:
        return
    if actor.role == Role.STORE_MANAGER and actor.store_id and store.pk == actor.store_id:
        return
    raise InboxError("actor", "only HQ admins and the store's manager edit its roster", status=403)


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise InboxError("starts_at", "times need a time zone")
    if ends_at <= starts_at:
        raise InboxError("ends_at", "a shift ends after it starts")
    if ends_at - starts_at > dt.timedelta(hours=24):
        raise InboxError("ends_at", "a shift lasts at most 24 hours")


@transaction.atomic
def create_shift(
    staff: Any, *, starts_at: dt.datetime, ends_at: dt.datetime, actor: Actor, store: Any = None
) -> Shift:
    store = store or staff.store
    _check_roster(actor, staff, store)
    _check_times(starts_at, ends_at)
    overlap = Shift.objects.filter(
        brand_id=actor.brand.pk, staff=staff, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if overlap.exists():
        raise InboxError("starts_at", "overlaps another shift of this staff member")
    shift = Shift.objects.create(
        brand_id=actor.brand.pk, staff=staff, store=store, starts_at=starts_at, ends_at=ends_at
    )
    audit.record(actor, "roster.shift_created", shift, staff=staff.pk)
    return shift


@transaction.atomic
def update_shift(shift: Shift, *, starts_at: dt.datetime, ends_at: dt.datetime, actor: Actor) -> Shift:
    _check_roster(actor, shift.staff, shift.store)
    _check_times(starts_at, ends_at)
    overlap = Shift.objects.filter(
        brand_id=actor.brand.pk, staff=shift.staff, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).exclude(pk=shift.pk)
    if overlap.exists():
        raise InboxError("starts_at", "overlaps another shift of this staff member")
    shift.starts_at, shift.ends_at = starts_at, ends_at
    shift.save(update_fields=["starts_at", "ends_at"])
    audit.record(actor, "roster.shift_updated", shift)
    return shift


@transaction.atomic
def delete_shift(shift: Shift, *, actor: Actor) -> None:
    _check_roster(actor, shift.staff, shift.store)
    audit.record(actor, "roster.shift_deleted", shift, staff=shift.staff_id)
    shift.delete()


def roster(actor: Actor, *, start: dt.datetime, end: dt.datetime, store: Any = None) -> list[Shift]:
    shifts = Shift.objects.select_related("staff", "store").filter(
        brand_id=actor.brand.pk, starts_at__lt=end, ends_at__gt=start
    )
    if actor.role == Role.STORE_MANAGER:
        shifts = shifts.filter(store_id=actor.store_id)
    elif actor.role != Role.HQ_ADMIN and actor.role != Role.HQ_AGENT:
        shifts = shifts.filter(staff_id=actor.user_id)
    if store is not None:
        shifts = shifts.filter(store_id=store.pk)
    return list(shifts.order_by("starts_at", "staff_id"))


ROSTER_COLUMNS = ("employee_code", "date", "start", "end")


@dataclass
class RosterImportReport:
    created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "field", "message"}


def import_roster_csv(text: str, *, actor: Actor) -> RosterImportReport:
    """Roster CSV: employee_code,date,start,end[,store_code], e.g. `E001,2025-03-01,11:00,20:00`.

    Times are the brand's local time; an end before the start runs past midnight. Each bad row is
    reported with its number and field; the good rows are imported (all or nothing per row).
    """
    from omo.staff.models import Store, User

    report = RosterImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise InboxError(
            "file", f"missing columns: {', '.join(missing)} (need {', '.join(ROSTER_COLUMNS)}[,store_code])"
        )
    tz = zoneinfo.ZoneInfo(actor.brand.time_zone or "Asia/Taipei")
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        staff = User.objects.filter(brand_id=actor.brand.pk, employee_code=row["employee_code"]).first()
        if staff is None:
            report.errors.append({"row": number, "field": "employee_code", "message": "no such employee"})
            continue
        store = staff.store
        if row.get("store_code"):
            store = Store.objects.filter(brand_id=actor.brand.pk, code=row["store_code"]).first()
            if store is None:
                report.errors.append({"row": number, "field": "store_code", "message": "no such store"})
                continue
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            report.errors.append({"row": number, "field": "date", "message": "use YYYY-MM-DD"})
            continue
        times = []
        for column in ("start", "end"):
            try:
                times.append(dt.time.fromisoformat(row[column]))
            except ValueError:
                report.errors.append({"row": number, "field": column, "message": "use HH:MM"})
                break
        if len(times) != 2:
            continue
        starts_at = dt.datetime.combine(day, times[0], tzinfo=tz)
        ends_at = dt.datetime.combine(day, times[1], tzinfo=tz)
        if ends_at <= starts_at:
            ends_at += dt.timedelta(days=1)
        try:
            create_shift(staff, starts_at=starts_at, ends_at=ends_at, actor=actor, store=store)
        except InboxError as exc:
            report.errors.append({"row": number, "field": exc.field, "message": exc.message})
            continue
        report.created += 1
    return report


def staff_on_duty(store: Any, at: dt.datetime | None = None) -> list[Any]:
    """Who of the store is on duty now (the store team view)."""
    from omo.staff.models import User

    at = at or timezone.now()
    staff = User.objects.filter(brand_id=store.brand_id, store=store, is_active=True).filter(
        Q(role=Role.CLERK) | Q(role=Role.STORE_MANAGER)
    )
    return [person for person in staff if routing.on_duty(person, at)]


# --- console verbs: close/reopen, audited assignment, canned reply removal, shift upload --------

STATUS_EVENTS = {
    Conversation.Status.RESOLVED: ("closed", "已結案 / closed"),
    Conversation.Status.OPEN: ("reopened", "重新開啟 / reopened"),
}


@transaction.atomic
def set_conversation_status(conversation: Conversation, status: str, *, user: Any) -> bool:
    """Close (resolved) or reopen a conversation; the change is written in its timeline. True if changed."""
    _visible(conversation, user)
    if status not in Conversation.Status.values:
        raise InboxError("status", f"one of {Conversation.Status.values}")
    if not Conversation.objects.filter(pk=conversation.pk).exclude(status=status).update(status=status):
        return False
    conversation.status = status
    event, words = STATUS_EVENTS[status]
    note = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=Message.Direction.INTERNAL,
        kind=Message.Kind.EVENT,
        text=f"{words}（{user}）",
        payload={"event": event, "actor_id": user.pk},
        status=Message.Status.SENT,
        sender=user,
    )
    events.publish(
        "message.created",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        message_id=note.pk,
        direction=Message.Direction.INTERNAL,
    )
    _updated(conversation, "status")
    return True


HQ_ROLES = (Role.HQ_ADMIN, Role.HQ_AGENT)


def assign_by_staff(
    conversation: Conversation, *, actor: Actor, queue: str, assignee: Any = None, store: Any = None
) -> bool:
    """Manual assignment with an audit entry: to HQ (optionally one HQ agent), a store team or a clerk.

    The HQ queue keeps the conversation's owning store unless another is given, so the store's
    manager still sees the customer while HQ answers. Other rules are assign_conversation's.
    """
    user = actor.user
    with transaction.atomic():
        before = (
            Conversation.objects.filter(pk=conversation.pk)
            .values_list("queue", "assignee_id", "store_id")
            .first()
        )
        if queue == Conversation.Queue.HQ:
            _visible(conversation, user)
            if store is None and conversation.store_id:
                store = conversation.store
            if assignee is not None:
                if user.role not in HQ_ROLES:
                    raise InboxError("assignee", "only HQ staff pick an HQ agent", status=403)
                if (
                    assignee.brand_id != user.brand_id
                    or not assignee.is_active
                    or assignee.role not in HQ_ROLES
                ):
                    raise InboxError("assignee", "an active HQ agent of this brand", status=404)
                if store is not None and store.brand_id != user.brand_id:
                    raise InboxError("store", "no such store", status=404)
                decision = routing.Decision(queue, assignee.pk, getattr(store, "pk", None), "manual")
                changed = routing.assign(conversation, decision, actor_user=user)
            else:
                changed = assign_conversation(conversation, actor_user=user, queue=queue, store=store)
        else:
            changed = assign_conversation(
                conversation, actor_user=user, queue=queue, assignee=assignee, store=store
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
def delete_canned_reply(canned: CannedReply, *, user: Any) -> None:
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


SHIFT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
SHIFT_STORE_COLUMNS = ("store", "store_code", "store_name")


@dataclass
class ShiftImportReport(RosterImportReport):
    rows: int = 0
    applied: bool = True  # False: all-or-nothing and a row was bad, so nothing was kept


class _RollBack(Exception):
    pass


def _shift_time(value: str, column: str) -> dt.time:
    for pattern in ("%H:%M", "%H:%M:%S"):  # spreadsheets write 9:00 as well as 09:00
        try:
            return dt.datetime.strptime(value, pattern).time()
        except ValueError:
            continue
    raise InboxError(column, "時間格式為 HH:MM / use HH:MM")


def _shift_row(row: dict[str, str], *, actor: Actor, tz: zoneinfo.ZoneInfo) -> Shift:
    from omo.staff.models import Store, User

    code = row.get("employee_code", "")
    staff = User.objects.filter(brand_id=actor.brand.pk, employee_code=code).first() if code else None
    if staff is None:
        raise InboxError("employee_code", "查無此員工編號 / no such employee in this brand")
    store = staff.store
    wanted = next((row[c] for c in SHIFT_STORE_COLUMNS if row.get(c)), "")
    if wanted:
        stores = Store.objects.filter(brand_id=actor.brand.pk)
        store = stores.filter(code=wanted).first() or stores.filter(name=wanted).first()
        if store is None:
            raise InboxError("store", "查無此門市代碼或名稱 / no such store code or name")
    if store is None:
        raise InboxError("store", "員工未指定門市，請填門市欄 / the staff member has no store: fill in store")
    day = None
    for pattern in SHIFT_DATE_FORMATS:
        try:
            day = dt.datetime.strptime(row.get("date", ""), pattern).date()
            break
        except ValueError:
            continue
    if day is None:
        raise InboxError("date", "日期格式為 YYYY-MM-DD / use YYYY-MM-DD")
    times = [_shift_time(row.get(column, ""), column) for column in ("start", "end")]
    starts_at = dt.datetime.combine(day, times[0], tzinfo=tz)
    ends_at = dt.datetime.combine(day, times[1], tzinfo=tz)
    if ends_at <= starts_at:  # a night shift runs past midnight
        ends_at += dt.timedelta(days=1)
    return create_shift(staff, starts_at=starts_at, ends_at=ends_at, actor=actor, store=store)


def import_shifts(raw: bytes, *, actor: Actor, all_or_nothing: bool = False) -> ShiftImportReport:
    """An uploaded roster CSV: UTF-8 (with or without BOM) or Big5, read by the import engine.

    Columns employee_code,date,start,end and optionally store (a store code or name; also
    store_code / store_name). Dates YYYY-MM-DD or YYYY/MM/DD in the brand's time zone; an end
    before the start runs past midnight. Every bad row is reported with its number and column.
    all_or_nothing: one bad row (or one clashing with an earlier row) and nothing is kept.
    """
    from omo.core.imports import ImportFileError, decode_csv, read_rows

    try:
        header, rows = read_rows(decode_csv(raw))
    except ImportFileError as exc:
        raise InboxError("file", exc.message) from exc
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise InboxError(
            "file", f"missing columns: {', '.join(missing)} (need {', '.join(ROSTER_COLUMNS)}[,store])"
        )
    tz = zoneinfo.ZoneInfo(actor.brand.time_zone or "Asia/Taipei")
    report = ShiftImportReport(rows=len(rows))
    try:
        with transaction.atomic():
            for number, row in rows:
                try:
                    with transaction.atomic():
                        _shift_row(row, actor=actor, tz=tz)
                except InboxError as exc:
                    report.errors.append({"row": number, "field": exc.field, "message": exc.message})
                    continue
                report.created += 1
            if all_or_nothing and report.errors:
                raise _RollBack
    except _RollBack:
        report.created, report.applied = 0, False
    return report
