"""Binding verbs: clerk codes, binding by QR (LIFF or prefilled message), policies, transfers, recovery.

Every verb owns its transaction; events (`binding.created`, `binding.ended`) and socket pushes run
after commit (omo.core.events). A binding change re-routes the customer's conversations at once,
in the same transaction, so the next message goes to the right person. The inbox sits above
binding: what binding needs of the chat (routing, the LINE account, sending) it asks through
omo/binding/chat.py, and the inbound handlers for the "#<code>" message and the recovery
postbacks live in the inbox (omo/inbox/binding_flows.py), which sends the replies these verbs
word.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.db import IntegrityError, transaction
from django.utils import timezone

from omo.binding import chat, selectors
from omo.binding.line_login import IdTokenError, verify_id_token
from omo.binding.models import Binding, BindingPolicy, ClerkCode, RecoveryRequest, Transfer
from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.customers.models import Customer
from omo.staff.models import Store, User

UNDO_DAYS = 30
RECOVERY_DAYS = 7
PREFILL_TEXT = "綁定專屬店員 #{code}"
CODE_IN_TEXT = re.compile(r"#\s*([0-9A-Za-z]{10})(?![0-9A-Za-z])")
CONFIRM_PREFIX = "bind:confirm:"
DECLINE_PREFIX = "bind:decline:"


class BindingError(FieldError, ValueError):
    """Bad input or a refused action; `field` names what was wrong, `status` the HTTP status to answer."""

    status = 400


class Outcome:
    CREATED = "created"  # newly bound to this clerk
    ALREADY = "already"  # already bound to this clerk
    KEPT = "kept"  # bound to another clerk, who keeps the customer (policy)
    REPLACED = "replaced"  # moved from another clerk to this one (policy)


@dataclass
class BindResult:
    outcome: str
    binding: Binding
    previous: Binding | None = None
    locked_until: dt.datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def clerk(self) -> User:
        return self.binding.clerk


# --- clerk codes -------------------------------------------------------------------------------


def _new_code() -> str:
    return "".join(secrets.choice(selectors.CODE_ALPHABET) for _ in range(selectors.CODE_LENGTH))


def clerk_code_for(clerk: User) -> ClerkCode:
    """The clerk's stable code, created on first use (unguessable: 31^10 ≈ 8·10^14 codes)."""
    if clerk.brand_id is None:
        raise BindingError("clerk", "only a brand's staff can have a clerk code")
    existing = ClerkCode.objects.filter(clerk=clerk).first()
    if existing is not None:
        return existing
    for _ in range(5):
        try:
            with transaction.atomic():
                return ClerkCode.objects.create(brand_id=clerk.brand_id, clerk=clerk, code=_new_code())
        except IntegrityError:
            existing = ClerkCode.objects.filter(clerk=clerk).first()
            if existing is not None:  # a concurrent request created it
                return existing
    raise BindingError("code", "could not allocate a unique code", status=500)


def binding_url(code: str) -> str:
    from django.conf import settings

    return f"{settings.BASE_URL}/b/{code}"


def line_inbox_of(brand_id: int) -> Any:
    """The brand's (first active) LINE inbox: where binding links lead."""
    return chat.side().line_inbox(brand_id)


def liff_id_of(inbox: Any) -> str:
    return str((inbox.config or {}).get("liff_id") or "") if inbox is not None else ""


def basic_id_of(inbox: Any) -> str:
    """The LINE basic id without "@" (the handle is stored as "@herb")."""
    return (inbox.handle or "").lstrip("@") if inbox is not None else ""


def add_friend_url(inbox: Any) -> str:
    basic_id = basic_id_of(inbox)
    return f"https://line.me/R/ti/p/%40{quote(basic_id, safe='')}" if basic_id else ""


def liff_url(inbox: Any, code: str) -> str:
    return f"https://liff.line.me/{liff_id_of(inbox)}?clerk={quote(code, safe='')}"


def prefilled_message_url(inbox: Any, code: str) -> str:
    """LINE opens the chat with the text typed in; the customer taps send (platforms.md §A10)."""
    basic_id = quote("@" + basic_id_of(inbox), safe="")
    return f"https://line.me/R/oaMessage/{basic_id}/?{quote(PREFILL_TEXT.format(code=code), safe='')}"


def link_target(code: ClerkCode) -> str:
    """Where `/b/<code>` sends the phone: LIFF when configured, else the prefilled-message chat.

    Raises BindingError (503) when the brand has no LINE account connected yet."""
    inbox = line_inbox_of(code.brand_id)
    if inbox is None or not basic_id_of(inbox):
        raise BindingError("inbox", "this brand has not connected a LINE official account yet", status=503)
    if liff_id_of(inbox) and (inbox.config or {}).get("login_channel_id"):
        return liff_url(inbox, code.code)
    return prefilled_message_url(inbox, code.code)


# --- binding -----------------------------------------------------------------------------------


def _publish_created(binding: Binding) -> None:
    events.publish(
        "binding.created",
        brand_id=binding.brand_id,
        binding_id=binding.pk,
        customer_id=binding.customer_id,
        clerk_id=binding.clerk_id,
        store_id=binding.store_id,
        source=binding.source,
    )


def _end(binding: Binding, *, at: dt.datetime, reason: str, transfer: Transfer | None = None) -> None:
    binding.ended_at = at
    binding.ended_reason = reason[:120]
    fields = ["ended_at", "ended_reason"]
    if transfer is not None:
        binding.transfer = transfer
        fields.append("transfer")
    binding.save(update_fields=fields)
    events.publish(
        "binding.ended",
        brand_id=binding.brand_id,
        binding_id=binding.pk,
        customer_id=binding.customer_id,
        clerk_id=binding.clerk_id,
        reason=binding.ended_reason,
    )


def _create(
    customer: Customer, clerk: User, *, source: str, at: dt.datetime, transfer: Transfer | None = None
) -> Binding:
    binding = Binding.objects.create(
        brand_id=customer.brand_id,
        customer=customer,
        clerk=clerk,
        store_id=clerk.store_id,
        source=source,
        started_at=at,
        transfer=transfer,
    )
    _publish_created(binding)
    return binding


def _route(customer: Customer) -> None:
    chat.side().route_customer(customer)


def _check_clerk(clerk: User | None, brand_id: int) -> None:
    if clerk is None or clerk.brand_id != brand_id:
        raise BindingError("clerk", "no such clerk in this brand", status=404)
    if not clerk.is_active:
        raise BindingError("clerk", "this clerk has left the brand", status=410)


def bind_customer(
    customer: Customer, clerk: User, *, source: str, at: dt.datetime | None = None, force: bool = False
) -> BindResult:
    """Bind the customer to the clerk under the brand's policy.

    first_keeps: a bound customer keeps their clerk (the caller tells them who it is);
    latest_wins: the new clerk takes over; locked_days: the new clerk takes over only after the lock.
    A binding to a departed clerk never blocks a new one. `force` (the customer's own confirmation in
    recovery) skips the policy.
    """
    _check_clerk(clerk, customer.brand_id)
    at = at or timezone.now()
    with transaction.atomic():
        current = (
            Binding.objects.select_for_update(of=("self",))
            .select_related("clerk")
            .filter(brand_id=customer.brand_id, customer_id=customer.pk, ended_at__isnull=True)
            .first()
        )
        if current is not None and current.clerk_id == clerk.pk:
            return BindResult(Outcome.ALREADY, current)
        locked_until = None
        if current is not None and current.clerk.is_active and not force:
            policy = selectors.policy_for(customer.brand_id)
            if policy.rule == BindingPolicy.Rule.FIRST_KEEPS:
                return BindResult(Outcome.KEPT, current)
            if policy.rule == BindingPolicy.Rule.LOCKED_DAYS:
                locked_until = current.started_at + dt.timedelta(days=policy.lock_days)
                if at < locked_until:
                    return BindResult(Outcome.KEPT, current, locked_until=locked_until)
        if current is not None:
            _end(current, at=at, reason=f"rebound:{source}")
        try:
            with transaction.atomic():
                binding = _create(customer, clerk, source=source, at=at)
        except IntegrityError:
            # A concurrent scan bound the customer first: theirs stands, this one is a second scan.
            winner = selectors.current_binding(customer)
            if winner is None:
                raise
            return BindResult(Outcome.ALREADY if winner.clerk_id == clerk.pk else Outcome.KEPT, winner)
        _route(customer)
    return BindResult(Outcome.REPLACED if current is not None else Outcome.CREATED, binding, previous=current)


def end_binding(binding: Binding, *, actor: Actor, reason: str = "unbound") -> Binding:
    """Unbind (解除綁定): the customer goes back to the unbound routing."""
    if binding.brand_id != actor.brand.pk:
        raise BindingError("binding", "no such binding", status=404)
    if binding.ended_at is not None:
        raise BindingError("binding", "this binding has already ended")
    with transaction.atomic():
        _end(binding, at=timezone.now(), reason=reason)
        audit.record(actor, "binding.ended", binding, reason=reason)
        _route(binding.customer)
    return binding


def customer_message(result: BindResult, *, requested_clerk: User) -> str:
    """What the customer is told after a scan, zh-Hant first, then English."""
    clerk = result.binding.clerk
    home = clerk.store
    store = home.name if home is not None else ""
    at_store = f"（{store}）" if store else ""
    at_store_en = f" ({home.name_en or store})" if home is not None and store else ""
    if result.outcome in (Outcome.CREATED, Outcome.REPLACED):
        return (
            f"已為您綁定專屬店員 {clerk}{at_store}，之後的訊息都會由 {clerk} 為您服務。\n"
            f"You're now connected with your personal clerk {clerk}{at_store_en}."
        )
    if result.outcome == Outcome.ALREADY:
        return (
            f"{clerk}{at_store} 已經是您的專屬店員囉！\n{clerk}{at_store_en} is already your personal clerk."
        )
    extra = ""
    extra_en = ""
    if result.locked_until is not None:
        day = timezone.localtime(result.locked_until).date().isoformat()
        extra, extra_en = f"（{day} 後可更換）", f" (can be changed after {day})"
    return (
        f"您的專屬店員是 {clerk}{at_store}{extra}，我們會請 {clerk} 為您服務。\n"
        f"Your personal clerk is {clerk}{at_store_en}{extra_en}."
    )


def departed_message(clerk: User) -> str:
    home = clerk.store
    store = home.name if home is not None else ""
    if home is not None and store:
        return (
            f"這位店員已不在本品牌服務，我們已請 {store} 的門市團隊為您服務。\n"
            f"This clerk has left; the team at {home.name_en or store} will help you."
        )
    return "這位店員已不在本品牌服務，我們已請客服人員為您服務。\nThis clerk has left; our customer service will help you."


UNKNOWN_CODE_MESSAGE = (
    "找不到這個店員代碼，請再確認一次；我們已請客服人員為您服務。\n"
    "We couldn't find that clerk code; our customer service will help you."
)


def hand_to_store(customer: Customer, clerk: User) -> None:
    """A departed clerk's code: the clerk's store team owns the customer's conversations (HQ if none)."""
    if clerk.store_id:
        chat.side().hand_to_store(customer, clerk.store)


# --- LIFF flow ---------------------------------------------------------------------------------


@dataclass
class LiffBindResult:
    outcome: str  # one of Outcome, or "departed"
    message: str
    add_friend_url: str
    clerk_name: str
    store_name: str


def bind_via_liff(raw_code: str, id_token: str) -> LiffBindResult:
    """The LIFF page posted `{idToken, clerk}`: verify the token with LINE Login, then bind."""
    code = selectors.find_code(raw_code)
    if code is None:
        raise BindingError("clerk", "找不到這個店員代碼 / unknown clerk code", status=404)
    inbox = line_inbox_of(code.brand_id)
    login_channel_id = str((inbox.config or {}).get("login_channel_id") or "") if inbox else ""
    if inbox is None or not login_channel_id:
        raise BindingError("inbox", "this brand has no LINE Login channel configured", status=503)
    try:
        identity = verify_id_token(id_token, login_channel_id=login_channel_id)
    except IdTokenError as exc:
        raise BindingError("idToken", exc.message, status=502 if exc.retryable else 401) from exc
    clerk = code.clerk
    with transaction.atomic():
        # The same contact/customer the Messaging API webhook will find: one LINE user id per provider.
        # The conversation exists from the scan on, so the clerk sees the new customer at once.
        customer = chat.side().line_customer(inbox, identity.user_id, display_name=identity.name)
        if not clerk.is_active:
            hand_to_store(customer, clerk)
            return LiffBindResult(
                "departed",
                departed_message(clerk),
                add_friend_url(inbox),
                str(clerk),
                clerk.store.name if clerk.store is not None else "",
            )
        result = bind_customer(customer, clerk, source=Binding.Source.LIFF)
    shown = result.binding.clerk
    return LiffBindResult(
        result.outcome,
        customer_message(result, requested_clerk=clerk),
        add_friend_url(inbox),
        str(shown),
        shown.store.name if shown.store is not None else "",
    )


# --- prefilled-message flow (the inbox's inbound handler calls this, omo/inbox/binding_flows.py) ---


@dataclass(frozen=True)
class Answer:
    """What to tell the customer in the chat, and whether their message is consumed.

    A message that is not consumed waits in the HQ or store queue, where a person can help."""

    message: str
    consumed: bool = True


def answer_code_message(customer: Customer, text: str, *, at: dt.datetime) -> Answer | None:
    """`綁定專屬店員 #<code>` from `customer`: bind, or say why not. None when the text is no binding attempt.

    Consumed when it bound or told who the clerk is; an unknown or departed code is answered too,
    but not consumed.
    """
    match = CODE_IN_TEXT.search(text or "")
    if match is None:
        return None
    raw = match.group(1)
    code = selectors.find_code(raw)
    if code is None or code.brand_id != customer.brand_id:
        if selectors.normalize_code(raw) is None and "綁定" not in (text or ""):
            return None  # "#hashtag" chatter, not a binding attempt
        return Answer(UNKNOWN_CODE_MESSAGE, consumed=False)
    clerk = code.clerk
    if not clerk.is_active:
        hand_to_store(customer, clerk)
        return Answer(departed_message(clerk), consumed=False)
    result = bind_customer(customer, clerk, source=Binding.Source.MESSAGE_CODE, at=at)
    return Answer(customer_message(result, requested_clerk=clerk))


# --- transfers ---------------------------------------------------------------------------------


def _check_manages(actor: Actor, clerk: User | None) -> User:
    """HQ admins transfer anyone of the brand; store managers only their own store's clerks."""
    from omo.staff.roles import Role

    if clerk is None or clerk.brand_id != actor.brand.pk:
        raise BindingError("from_clerk", "no such clerk in this brand", status=404)
    if actor.role == Role.HQ_ADMIN:
        return clerk
    if actor.role == Role.STORE_MANAGER and actor.store_id and clerk.store_id == actor.store_id:
        return clerk
    raise BindingError(
        "actor", "only HQ admins and the clerk's store manager can transfer bindings", status=403
    )


@transaction.atomic
def transfer_bindings(
    from_clerk: User | None,
    *,
    actor: Actor,
    to_clerk: User | None = None,
    to_store: Store | None = None,
    customer_ids: list[int] | None = None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Transfer:
    """Move one, some (`customer_ids`) or all of a clerk's customers to another clerk or to the store team.

    To a store: the bindings end and the store team owns the conversations. Audited; undoable for 30 days.
    """
    from_clerk = _check_manages(actor, from_clerk)
    if (to_clerk is None) == (to_store is None):
        raise BindingError("to", "give exactly one of to_clerk or to_store")
    if to_clerk is not None:
        _check_clerk(to_clerk, actor.brand.pk)
        if to_clerk.pk == from_clerk.pk:
            raise BindingError("to_clerk", "cannot transfer to the same clerk")
    if to_store is not None and (to_store.brand_id != actor.brand.pk or not to_store.is_active):
        raise BindingError("to_store", "no such store in this brand", status=404)
    at = at or timezone.now()
    bindings = list(
        Binding.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(brand_id=actor.brand.pk, clerk=from_clerk, ended_at__isnull=True)
    )
    if customer_ids is not None:
        wanted = {int(pk) for pk in customer_ids}
        bindings = [b for b in bindings if b.customer_id in wanted]
        missing = wanted - {b.customer_id for b in bindings}
        if missing:
            raise BindingError("customer_ids", f"not bound to this clerk: {sorted(missing)}")
    if not bindings:
        raise BindingError("from_clerk", "this clerk has no bound customers to transfer")
    transfer = Transfer.objects.create(
        brand_id=actor.brand.pk,
        from_clerk=from_clerk,
        to_clerk=to_clerk,
        to_store=to_store,
        reason=reason[:200],
        actor=actor.user if getattr(actor.user, "pk", None) else None,
        undo_until=at + dt.timedelta(days=UNDO_DAYS),
    )
    moved = []
    for binding in bindings:
        _end(binding, at=at, reason="transfer", transfer=transfer)
        new = None
        if to_clerk is not None:
            new = _create(
                binding.customer, to_clerk, source=Binding.Source.TRANSFER, at=at, transfer=transfer
            )
        moved.append([binding.pk, new.pk if new else None])
    transfer.moved_bindings = moved
    transfer.save(update_fields=["moved_bindings"])
    audit.record(
        actor,
        "binding.transferred",
        transfer,
        from_clerk=from_clerk.pk,
        to_clerk=getattr(to_clerk, "pk", None),
        to_store=getattr(to_store, "pk", None),
        customers=[b.customer_id for b in bindings],
        reason=reason,
    )
    for binding in bindings:
        if to_store is not None:
            chat.side().hand_to_store(binding.customer, to_store)
        else:
            _route(binding.customer)
    return transfer


@transaction.atomic
def undo_transfer(transfer: Transfer, *, actor: Actor, at: dt.datetime | None = None) -> list[int]:
    """Give the customers back to the original clerk (within 30 days). Returns the customer ids restored.

    A customer who has been bound elsewhere since the transfer is left alone (their newer choice wins).
    """
    at = at or timezone.now()
    transfer = (
        Transfer.objects.select_for_update(of=("self",)).select_related("from_clerk").get(pk=transfer.pk)
    )
    _check_manages(actor, transfer.from_clerk)
    if transfer.undone_at is not None:
        raise BindingError("transfer", "this transfer was already undone", status=409)
    if at > transfer.undo_until:
        raise BindingError("transfer", f"a transfer can be undone for {UNDO_DAYS} days only", status=409)
    if not transfer.from_clerk.is_active:
        raise BindingError(
            "transfer", "the original clerk has left; transfer to another clerk instead", status=409
        )
    restored = []
    for old_id, new_id in transfer.moved_bindings:
        old = Binding.objects.select_related("customer").filter(pk=old_id, brand_id=transfer.brand_id).first()
        if old is None:
            continue
        current = selectors.current_binding(old.customer)
        if new_id is not None:
            if current is None or current.pk != new_id:
                continue  # rebound since: leave it
            _end(current, at=at, reason="transfer undone", transfer=transfer)
        elif current is not None:
            continue
        _create(old.customer, transfer.from_clerk, source=Binding.Source.TRANSFER, at=at, transfer=transfer)
        restored.append(old.customer_id)
        _route(old.customer)
    transfer.undone_at = at
    transfer.save(update_fields=["undone_at"])
    audit.record(actor, "binding.transfer_undone", transfer, customers=restored)
    return restored


# --- recovery by phone -------------------------------------------------------------------------


def find_customer_by_phone(actor_user: User | None, phone: str) -> Customer | None:
    """The brand's customer with this phone (None if none). Bad numbers raise BindingError("phone")."""
    from omo.customers import services as customer_services

    if actor_user is None or actor_user.brand is None:
        raise BindingError("actor", "sign in as the brand's staff", status=403)
    try:
        clean_phone, _ = customer_services.clean_contact(actor_user.brand, phone=phone)
    except customer_services.CustomerError as exc:
        raise BindingError("phone", exc.message) from exc
    if not clean_phone:
        raise BindingError("phone", "enter a mobile number")
    return customer_services.find_customer(actor_user.brand, phone=clean_phone)


def _recovery_card(clerk: User, token: str) -> dict[str, Any]:
    store = f"（{clerk.store.name}）" if clerk.store is not None else ""
    text = f"{clerk}{store} 想成為您的專屬店員，是否同意綁定？\n{clerk} would like to be your personal clerk."

    def button(label: str, data: str, style: str) -> dict[str, Any]:
        return {
            "type": "button",
            "style": style,
            "action": {"type": "postback", "label": label, "data": data, "displayText": label},
        }

    return {
        "type": "flex",
        "altText": text[:400],
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [{"type": "text", "text": text, "wrap": True}],
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "spacing": "sm",
                "contents": [
                    button("確認綁定 Confirm", f"{CONFIRM_PREFIX}{token}", "primary"),
                    button("不用了 No thanks", f"{DECLINE_PREFIX}{token}", "secondary"),
                ],
            },
        },
    }


@transaction.atomic
def request_recovery(clerk: User, customer: Customer, *, actor: Actor) -> RecoveryRequest:
    """Send the customer a LINE message asking to confirm `clerk`; bound only when they tap confirm."""
    _check_clerk(clerk, actor.brand.pk)
    if customer is None or customer.brand_id != actor.brand.pk:
        raise BindingError("customer", "no such customer in this brand", status=404)
    if actor.user is not None and actor.user.role == "clerk" and actor.user.pk != clerk.pk:
        raise BindingError("clerk", "a clerk can ask only for themselves", status=403)
    conversation = chat.side().line_conversation(actor.brand.pk, customer)
    if conversation is None:
        raise BindingError(
            "customer", "this customer cannot be reached on LINE (not a friend or blocked)", status=409
        )
    current = selectors.current_binding(customer)
    if current is not None and current.clerk_id == clerk.pk:
        raise BindingError("customer", "this customer is already bound to this clerk", status=409)
    request = RecoveryRequest.objects.create(
        brand_id=actor.brand.pk,
        clerk=clerk,
        customer=customer,
        token=secrets.token_urlsafe(24),
        expires_at=timezone.now() + dt.timedelta(days=RECOVERY_DAYS),
    )
    chat.side().send(
        conversation, kind="flex", payload={"line": _recovery_card(clerk, request.token)}, sender=actor.user
    )
    audit.record(actor, "binding.recovery_requested", request, customer=customer.pk, clerk=clerk.pk)
    return request


def answer_recovery(customer: Customer, data: str, *, at: dt.datetime) -> Answer:
    """The customer tapped `bind:confirm:<token>` or `bind:decline:<token>` on a recovery card."""
    accept = data.startswith(CONFIRM_PREFIX)
    token = data[len(CONFIRM_PREFIX if accept else DECLINE_PREFIX) :]
    request = (
        RecoveryRequest.objects.select_for_update(of=("self",))
        .select_related("clerk__store")
        .filter(brand_id=customer.brand_id, token=token, customer_id=customer.pk)
        .first()
    )
    if request is None:  # someone else's token, or made up: say nothing about whose
        return Answer("這個確認已失效。\nThis confirmation is no longer valid.")
    if request.status == RecoveryRequest.Status.PENDING and request.expires_at <= at:
        request.status = RecoveryRequest.Status.EXPIRED
        request.save(update_fields=["status"])
    if request.status != RecoveryRequest.Status.PENDING:
        return Answer("這個確認已過期或已處理。\nThis confirmation has expired or was already answered.")
    request.answered_at = at
    if not accept:
        request.status = RecoveryRequest.Status.DECLINED
        request.save(update_fields=["status", "answered_at"])
        return Answer("好的，已為您取消。\nOK, nothing was changed.")
    if not request.clerk.is_active:
        request.status = RecoveryRequest.Status.EXPIRED
        request.save(update_fields=["status", "answered_at"])
        hand_to_store(customer, request.clerk)
        return Answer(departed_message(request.clerk))
    request.status = RecoveryRequest.Status.CONFIRMED
    request.save(update_fields=["status", "answered_at"])
    # The customer's own tap is consent enough to override the first-clerk-keeps policy.
    result = bind_customer(customer, request.clerk, source=Binding.Source.RECOVERY, at=at, force=True)
    return Answer(customer_message(result, requested_clerk=request.clerk))


def expire_recoveries(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return RecoveryRequest.objects.filter(status=RecoveryRequest.Status.PENDING, expires_at__lte=now).update(
        status=RecoveryRequest.Status.EXPIRED
    )
