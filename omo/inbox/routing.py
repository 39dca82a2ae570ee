"""Who answers a conversation now: the bound clerk → the store team → HQ agents.

Rules (DESIGN.md §3.2):

- A customer bound to a clerk goes to that clerk while the clerk is on duty and has not let the
  customer wait past the brand's SLA (InboxSettings.sla_minutes, counted in the store's opening
  hours). On duty = inside a roster shift; a clerk with no shifts at all is treated as on duty
  whenever their store is open (small brands do not keep a roster).
- Otherwise the clerk's store team takes it while the store is open, and HQ agents when it is closed.
- An unbound customer goes to HQ, unless a store owns the conversation (`Conversation.store` set by
  a transfer to the store or a scan of a departed clerk's code): then that store's team while it is
  open, HQ when it is closed.
- `escalate_and_return` (omo.inbox.tasks, every minute) applies the same decision to conversations
  whose situation may have changed with time: SLA passed, shift started or ended, store opened.

`Conversation.store` is the store that owns the customer (kept when HQ covers a closed store, so the
store manager still sees it); `queue` + `assignee` say who handles it now. Every change of those
writes an "event" message in the timeline and publishes `conversation.assigned`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from omo.binding.models import Binding
from omo.binding.selectors import current_binding_of
from omo.core import events
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.inbox.models import Conversation, InboxSettings, Message
from omo.staff import roster
from omo.staff.models import Store, User

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 14  # how far ahead an SLA deadline may be pushed by closed days

Queue = Conversation.Queue

# Why a conversation moved, in words for the timeline (zh-Hant first, English second).
REASONS: dict[str, str] = {
    "bound_clerk": "綁定店員值班中 / bound clerk on duty",
    "clerk_off_shift": "綁定店員下班 / bound clerk off duty",
    "clerk_departed": "綁定店員已離職 / bound clerk has left",
    "sla_breached": "超過回覆時限未回覆 / not answered within the SLA",
    "store_closed": "門市非營業時間 / store closed",
    "store_owned": "門市團隊負責 / store team owns this customer",
    "unbound": "未綁定店員 / no bound clerk",
    "manual": "手動指派 / assigned by staff",
}


@dataclass(frozen=True)
class Decision:
    queue: str
    assignee_id: int | None
    store_id: int | None
    reason: str


# --- time: opening hours and shifts ------------------------------------------------------------


def _zone(brand: Brand | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(brand, "time_zone", "") or "Asia/Taipei")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Taipei")


def _parse_hhmm(value: str) -> dt.time | None:
    hours, _, minutes = str(value).partition(":")
    try:
        h, m = int(hours), int(minutes or 0)
    except ValueError:
        return None
    if h == 24 and m == 0:
        return None  # handled by the caller as end of day
    if not (0 <= h < 24 and 0 <= m < 60):
        return None
    return dt.time(h, m)


def open_intervals(
    opening_hours: dict[str, Any], day: dt.date, tz: zoneinfo.ZoneInfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The store's open periods starting on `day` (local date), as aware datetimes.

    "24:00" means midnight at the end of the day; an end before its start runs past midnight.
    Malformed entries are skipped rather than failing the routing of a customer's message.
    """
    intervals = []
    for entry in (opening_hours or {}).get(DAY_KEYS[day.weekday()], []) or []:
        try:
            start_text, end_text = entry[0], entry[1]
        except (TypeError, IndexError, KeyError):
            continue
        start = _parse_hhmm(start_text)
        if start is None:
            continue
        starts_at = dt.datetime.combine(day, start, tzinfo=tz)
        end = _parse_hhmm(end_text)
        if end is None:
            if str(end_text).strip() != "24:00":
                continue
            ends_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        else:
            ends_at = dt.datetime.combine(day, end, tzinfo=tz)
            if ends_at <= starts_at:
                ends_at += dt.timedelta(days=1)
        intervals.append((starts_at, ends_at))
    return sorted(intervals)


def has_opening_hours(store: Store | None) -> bool:
    return bool(store is not None and any((store.opening_hours or {}).get(day) for day in DAY_KEYS))


def store_is_open(store: Store | None, at: dt.datetime) -> bool:
    """Open at `at`. A store without any opening hours recorded counts as closed (HQ covers it)."""
    if store is None or not store.is_active or not has_opening_hours(store):
        return False
    tz = _zone(store.brand)
    local = at.astimezone(tz)
    for day in (local.date() - dt.timedelta(days=1), local.date()):  # yesterday's may run past midnight
        for starts_at, ends_at in open_intervals(store.opening_hours, day, tz):
            if starts_at <= at < ends_at:
                return True
    return False


def add_open_minutes(store: Store | None, start: dt.datetime, minutes: int) -> dt.datetime:
    """`start` plus `minutes` counted only while the store is open (the SLA clock stops when closed).

    Without a store or opening hours the minutes count around the clock (HQ)."""
    if store is None or not has_opening_hours(store):
        return start + dt.timedelta(minutes=minutes)
    tz = _zone(store.brand)
    remaining = dt.timedelta(minutes=minutes)
    local_day = start.astimezone(tz).date() - dt.timedelta(days=1)
    for offset in range(SEARCH_DAYS + 1):
        for starts_at, ends_at in open_intervals(
            store.opening_hours, local_day + dt.timedelta(days=offset), tz
        ):
            begin = max(starts_at, start)
            if begin >= ends_at:
                continue
            if begin + remaining <= ends_at:
                return begin + remaining
            remaining -= ends_at - begin
    return start + dt.timedelta(minutes=minutes)  # a store open too rarely: fall back to wall time


def on_duty(clerk: User | None, at: dt.datetime) -> bool:
    """In a roster shift at `at`; a clerk with no shifts at all is on duty while their store is open."""
    if clerk is None or not clerk.is_active:
        return False
    has_shifts, in_shift = roster.duty_state(clerk, at)
    if not has_shifts:
        return store_is_open(clerk.store, at)
    return in_shift


# --- the decision ------------------------------------------------------------------------------


def settings_for(brand_id: int) -> InboxSettings:
    found = InboxSettings.objects.filter(brand_id=brand_id).first()
    return found or InboxSettings(brand_id=brand_id)


def _bound_clerk(conversation: Conversation) -> User | None:
    """The customer's current clerk (with store and brand)."""
    binding = current_binding_of(conversation.brand_id, conversation.customer_id)
    return binding.clerk if binding is not None else None


def sla_breached(conversation: Conversation, now: dt.datetime) -> bool:
    return (
        conversation.waiting_since is not None
        and conversation.sla_due_at is not None
        and conversation.sla_due_at <= now
    )


def decide(conversation: Conversation, now: dt.datetime) -> Decision:
    return _decide(conversation, now, _bound_clerk(conversation))


def _decide(conversation: Conversation, now: dt.datetime, clerk: User | None) -> Decision:
    """`decide`, given the customer's bound clerk (None: not bound)."""
    if clerk is None:
        store = conversation.store
        if store is not None:
            if store_is_open(store, now):
                return Decision(Queue.STORE, None, store.pk, "store_owned")
            return Decision(Queue.HQ, None, store.pk, "store_closed")
        return Decision(Queue.HQ, None, None, "unbound")
    store = clerk.store
    store_id = clerk.store_id
    if not clerk.is_active:
        reason = "clerk_departed"
    elif sla_breached(conversation, now):
        reason = "sla_breached"
    elif not on_duty(clerk, now):
        reason = "clerk_off_shift"
    else:
        return Decision(Queue.CLERK, clerk.pk, store_id, "bound_clerk")
    if store_is_open(store, now):
        return Decision(Queue.STORE, None, store_id, reason)
    return Decision(Queue.HQ, None, store_id, "store_closed")


# --- applying it -------------------------------------------------------------------------------


def _describe(conversation: Conversation, decision: Decision) -> str:
    if decision.queue == Queue.CLERK and decision.assignee_id:
        clerk = User.objects.filter(pk=decision.assignee_id).first()
        target = f"店員 {clerk} / clerk {clerk}"
    elif decision.queue == Queue.STORE:
        store = Store.objects.filter(pk=decision.store_id).first() if decision.store_id else None
        target = f"門市團隊（{store}）/ store team ({store})"
    else:
        target = "總部客服 / HQ agents"
    reason = REASONS.get(decision.reason, decision.reason)
    return f"轉給 {target}：{reason}"


@transaction.atomic
def assign(
    conversation: Conversation,
    decision: Decision,
    *,
    actor_user: User | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Apply `decision`; when it changes who handles the conversation, write the timeline event. True if changed."""
    now = now or timezone.now()
    current = Conversation.objects.select_for_update().get(pk=conversation.pk)
    before = (current.queue, current.assignee_id, current.store_id)
    after = (decision.queue, decision.assignee_id, decision.store_id)
    if before == after:
        return False
    Conversation.objects.filter(pk=current.pk).update(
        queue=decision.queue, assignee_id=decision.assignee_id, store_id=decision.store_id
    )
    conversation.queue, conversation.assignee_id, conversation.store_id = after
    event = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=Message.Direction.INTERNAL,
        kind=Message.Kind.EVENT,
        text=_describe(conversation, decision),
        payload={
            "event": "assigned",
            "queue": decision.queue,
            "assignee_id": decision.assignee_id,
            "store_id": decision.store_id,
            "reason": decision.reason,
            "previous": {"queue": before[0], "assignee_id": before[1], "store_id": before[2]},
            "actor_id": actor_user.pk if actor_user is not None else None,
        },
        status=Message.Status.SENT,
        sender=actor_user if actor_user is not None and actor_user.pk else None,
    )
    events.publish(
        "message.created",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        message_id=event.pk,
        direction=Message.Direction.INTERNAL,
    )
    events.publish(
        "conversation.assigned",
        brand_id=conversation.brand_id,
        conversation_id=conversation.pk,
        queue=decision.queue,
        assignee_id=decision.assignee_id,
        store_id=decision.store_id,
        previous_assignee_id=before[1],
        previous_store_id=before[2],
        reason=decision.reason,
    )
    return True


def route(conversation: Conversation, *, now: dt.datetime | None = None) -> Decision:
    """Decide and apply who handles the conversation now."""
    now = now or timezone.now()
    decision = decide(conversation, now)
    assign(conversation, decision, now=now)
    return decision


def on_inbound(
    conversation: Conversation, message: Message, *, now: dt.datetime | None = None, fresh: bool = False
) -> Decision:
    """A customer message now awaits an answer: start the SLA clock (once per wait) and route.

    Called by omo.inbox.ingest.mark_awaiting_reply after unread/waiting_since were updated; `fresh`
    says the object was just read back from that UPDATE, so it need not be read again."""
    now = now or timezone.now()
    if not fresh:
        conversation.refresh_from_db(fields=["waiting_since", "sla_due_at", "store", "queue", "assignee"])
    clerk = _bound_clerk(conversation)  # read once for the SLA clock and the decision
    if conversation.waiting_since is not None and conversation.sla_due_at is None:
        store = clerk.store if clerk is not None else conversation.store
        minutes = settings_for(conversation.brand_id).sla_minutes
        due = add_open_minutes(store, conversation.waiting_since, minutes)
        Conversation.objects.filter(pk=conversation.pk, sla_due_at__isnull=True).update(sla_due_at=due)
        conversation.sla_due_at = due
    decision = _decide(conversation, now, clerk)
    if (decision.queue, decision.assignee_id, decision.store_id) != (
        conversation.queue,
        conversation.assignee_id,
        conversation.store_id,
    ):  # just read in this transaction: only a change needs the row lock and the timeline event
        assign(conversation, decision, now=now)
    return decision


def reroute_customer(customer: Customer, *, now: dt.datetime | None = None) -> list[Decision]:
    """Route every conversation of this customer again (after a binding change)."""
    conversations = Conversation.objects.filter(brand_id=customer.brand_id, customer=customer).select_related(
        "customer", "store__brand"
    )
    return [route(conversation, now=now) for conversation in conversations]


def candidates_for_tick(now: dt.datetime) -> QuerySet[Conversation]:
    """Open conversations whose routing may have changed with time alone."""
    bound = Binding.objects.filter(customer_id=OuterRef("customer_id"), ended_at__isnull=True)
    return (
        Conversation.objects.filter(status=Conversation.Status.OPEN)
        .filter(
            Q(queue=Queue.CLERK)  # clerk's shift may have ended, SLA may have passed
            | Q(queue__in=[Queue.STORE, Queue.HQ], store__isnull=False)  # clerk back / store opened or closed
            | Q(Exists(bound), queue=Queue.HQ)
        )
        .select_related("customer", "store__brand")
    )


def escalate_and_return(now: dt.datetime | None = None) -> dict[str, int]:
    """Route again every conversation time may have moved. Returns counts by new queue."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for conversation in candidates_for_tick(now).iterator(chunk_size=500):
        before = (conversation.queue, conversation.assignee_id, conversation.store_id)
        decision = route(conversation, now=now)
        if (decision.queue, decision.assignee_id, decision.store_id) != before:
            counts[decision.queue] = counts.get(decision.queue, 0) + 1
    return counts
