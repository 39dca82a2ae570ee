"""Recovery by phone: a clerk finds a customer by their number and asks, in a LINE message, to be
their clerk; the customer's tap on confirm binds them (their own consent overrides the policy)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from omo.binding import chat, selectors
from omo.binding.models import Binding, BindingPolicy, RecoveryRequest
from omo.binding.services.bindings import bind_customer, check_clerk, hand_to_store
from omo.binding.services.errors import BindingError
from omo.binding.services.replies import Answer, customer_message, departed_message
from omo.core import audit
from omo.core.audit import Actor
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.staff.models import User
from omo.staff.roles import Role

RECOVERY_DAYS = 7
CONFIRM_PREFIX = "bind:confirm:"
DECLINE_PREFIX = "bind:decline:"


def find_customer_by_phone(actor_user: User | None, phone: str) -> Customer | None:
    """The brand's customer with this phone (None if none). Bad numbers raise BindingError("phone")."""
    if actor_user is None or actor_user.brand is None:
        raise BindingError("actor", "sign in as the brand's staff", status=403)
    try:
        clean_phone, _ = customer_services.clean_contact(actor_user.brand, phone=phone)
    except customer_services.CustomerError as exc:
        raise BindingError("phone", exc.message) from exc
    if not clean_phone:
        raise BindingError("phone", "enter a mobile number")
    return customer_services.find_customer(actor_user.brand, phone=clean_phone)


def customers_by_phone(actor_user: User | None, phone: str) -> list[Customer]:
    """Every live customer of the brand known by this phone: as an identifier, or on the profile.

    More than one means duplicate profiles that HQ should merge first. Bad numbers raise
    BindingError("phone")."""
    found = find_customer_by_phone(actor_user, phone)
    assert actor_user is not None and actor_user.brand is not None  # checked by find_customer_by_phone
    clean_phone, _ = customer_services.clean_contact(actor_user.brand, phone=phone)
    matches = {found.pk: found} if found is not None else {}
    for customer in Customer.objects.filter(
        brand_id=actor_user.brand.pk, phone=clean_phone, merged_into__isnull=True, erased_at__isnull=True
    ).order_by("pk")[:10]:
        matches.setdefault(customer.pk, customer)
    return list(matches.values())


def check_policy_allows(customer: Customer, clerk: User, *, at: dt.datetime | None = None) -> None:
    """BindingError (409) when the brand's binding policy keeps the customer with another active clerk.

    first_keeps: a customer bound to an active clerk stays; locked_days: stays until the lock ends;
    latest_wins: the customer may move (they still confirm it themselves).
    """
    current = selectors.current_binding(customer)
    if current is None or not current.clerk.is_active:
        return
    if current.clerk_id == clerk.pk:
        raise BindingError(
            "customer", "this customer is already bound to this clerk", status=409, code="already_bound"
        )
    policy = selectors.policy_for(customer.brand_id)
    if policy.rule == BindingPolicy.Rule.LATEST_WINS:
        return
    if policy.rule == BindingPolicy.Rule.LOCKED_DAYS:
        until = current.started_at + dt.timedelta(days=policy.lock_days)
        if (at or timezone.now()) >= until:
            return
        raise BindingError(
            "customer",
            f"this customer is bound to {current.clerk} until {timezone.localtime(until).date().isoformat()} "
            "(binding policy: locked period); ask the store manager to transfer them",
            status=409,
            code="bound_elsewhere",
            clerk=str(current.clerk),
            locked_until=until.isoformat(),
        )
    raise BindingError(
        "customer",
        f"this customer is bound to {current.clerk} (binding policy: first clerk keeps); "
        "ask the store manager to transfer them",
        status=409,
        code="bound_elsewhere",
        clerk=str(current.clerk),
    )


def recover_by_phone(phone: str, clerk: User | None, *, actor: Actor) -> RecoveryRequest:
    """A store's staff enter the customer's phone and the clerk: find the one customer and send them
    the confirmation card (request_recovery). Named refusals: no match, several matches, already
    bound under the policy, not reachable on LINE."""
    if clerk is None or clerk.brand_id != actor.brand.pk:
        raise BindingError("clerk", "no such clerk in this brand", status=404)
    matches = customers_by_phone(actor.user or clerk, phone)
    if not matches:
        raise BindingError(
            "phone", "no customer of this brand has this phone number", status=404, code="no_match"
        )
    if len(matches) > 1:
        raise BindingError(
            "phone",
            f"{len(matches)} customers share this phone number; merge them first",
            status=409,
            code="several_matches",
            customer_ids=[c.pk for c in matches],
        )
    return request_recovery(clerk, matches[0], actor=actor)


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
    check_clerk(clerk, actor.brand.pk)
    if customer is None or customer.brand_id != actor.brand.pk:
        raise BindingError("customer", "no such customer in this brand", status=404)
    if actor.role == Role.CLERK and actor.user_id != clerk.pk:
        raise BindingError("clerk", "a clerk can ask only for themselves", status=403)
    if actor.role == Role.STORE_MANAGER and clerk.store_id != actor.store_id:
        raise BindingError(
            "clerk", "a store manager can ask only for the clerks of their own store", status=403
        )
    if clerk.role not in (Role.CLERK, Role.STORE_MANAGER):
        raise BindingError("clerk", "customers can be bound only to clerks and store managers")
    check_policy_allows(customer, clerk)
    conversation = chat.side().line_conversation(actor.brand.pk, customer)
    if conversation is None:
        raise BindingError(
            "customer",
            "this customer cannot be reached on LINE (not a friend or blocked)",
            status=409,
            code="not_on_line",
        )
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
