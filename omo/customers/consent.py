"""Consent per customer × platform × purpose (marketing, transactional), and who may be messaged.

`Consent` rows are append-only: every decision is a new row with its source and time, and the
latest row (by `recorded_at`, then id) per customer × platform × purpose holds.

    record_consent(customer, platform="line", purpose="marketing", granted=False, source="chat.opt_out")
    current_consent(customer)            # {"line": {"marketing": {...}, "transactional": {...}}, ...}
    may_message(customer, "line", "marketing")   # (False, "顧客已取消訂閱… / The customer …")

Defaults when no row exists yet:
- transactional messages (order, shipping, binding confirmations) are allowed;
- marketing on LINE is allowed while the customer follows the official account: adding the OA as a
  friend is how Taiwanese customers say messages are welcome. A follow records this explicitly
  (source `line.follow`), a block withdraws it (`line.unfollow`) and an unblock grants it again;
- marketing on any other platform needs a recorded grant.

Reachability comes first: a customer whose every LINE contact blocked the account cannot be
messaged on LINE for any purpose (the platform would drop the message anyway).

Opt-out and opt-in words in chat are the inbox's (omo/inbox/consent_words.py): it records them
here with source `chat.opt_out` / `chat.opt_in`. Whether a customer's chat contacts blocked or
follow the account comes from the inbox too, through omo/customers/registry.py.

Domain event: `consent.changed` (after commit) when the holding decision changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.customers import registry
from omo.customers.models import Consent, Customer

logger = logging.getLogger(__name__)

MARKETING = Consent.Purpose.MARKETING
TRANSACTIONAL = Consent.Purpose.TRANSACTIONAL
MESSAGING_PLATFORMS = ("line", "messenger", "instagram", "whatsapp")

MAX_SOURCE = 60
MAX_NOTE = 255

REASONS: dict[str, tuple[str, str]] = {
    "granted": ("顧客已同意。", "The customer agreed."),
    "follower": ("顧客已加入官方帳號好友。", "The customer follows the official account."),
    "transactional_default": ("交易通知預設可傳送。", "Transactional messages are allowed by default."),
    "withdrawn": ("顧客已取消同意（{source}）。", "The customer withdrew consent ({source})."),
    "no_consent": ("顧客尚未同意接收行銷訊息。", "The customer has not agreed to marketing messages."),
    "blocked": ("顧客已封鎖官方帳號，無法傳送。", "The customer has blocked the account; cannot send."),
    "no_contact": ("顧客在此平台沒有聯絡方式。", "The customer cannot be reached on this platform."),
    "erased": (
        "顧客個資已刪除，不再傳送訊息。",
        "The customer's personal data was erased; no more messages.",
    ),
    "unknown_platform": ("不支援的平台：{platform}。", "Unknown platform: {platform}."),
}


class ConsentError(FieldError, ValueError):
    status = 400


def reason(code: str, **values: Any) -> str:
    zh, en = REASONS[code]
    return f"{zh.format(**values)} / {en.format(**values)}"


def _latest(customer: Customer, platform: str, purpose: str) -> Consent | None:
    return (
        Consent.objects.filter(
            brand_id=customer.brand_id, customer=customer, platform=platform, purpose=purpose
        )
        .order_by("-recorded_at", "-id")
        .first()
    )


def _check(platform: str, purpose: str, source: str, note: str) -> None:
    if platform not in Consent.Platform.values:
        raise ConsentError("platform", f"one of {', '.join(Consent.Platform.values)}")
    if purpose not in Consent.Purpose.values:
        raise ConsentError("purpose", f"one of {', '.join(Consent.Purpose.values)}")
    if not (source or "").strip():
        raise ConsentError("source", "say where the decision came from, e.g. console or line.follow")
    if len(source) > MAX_SOURCE:
        raise ConsentError("source", f"at most {MAX_SOURCE} characters")
    if len(note or "") > MAX_NOTE:
        raise ConsentError("note", f"at most {MAX_NOTE} characters")


def record_consent(
    customer: Customer,
    *,
    platform: str,
    purpose: str,
    granted: bool,
    source: str,
    note: str = "",
    at: dt.datetime | None = None,
    actor: Actor | None = None,
    only_if_newer: bool = False,
) -> Consent | None:
    """Append one decision. Returns None when it repeats the holding decision from the same source.

    `at` is when the customer decided (an event's time); a decision older than the holding one is
    kept in the history but does not replace it. With `only_if_newer` (a platform reporting its own
    consent state, e.g. Shopify) such an older or same-time decision is not recorded at all (None).
    Staff decisions (actor with a user or API key) are audited as `consent.recorded`.
    """
    _check(platform, purpose, source, note)
    at = at or timezone.now()
    with transaction.atomic():
        # One writer per customer at a time, so two opt-outs at once do not both count as changes.
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        before = _latest(customer, platform, purpose)
        if before is not None and before.granted == bool(granted) and before.source == source:
            return None
        if only_if_newer and before is not None and before.recorded_at >= at:
            return None
        row = Consent.objects.create(
            brand_id=customer.brand_id,
            customer=customer,
            platform=platform,
            purpose=purpose,
            granted=bool(granted),
            source=source.strip(),
            note=(note or "").strip(),
            recorded_at=at,
            recorded_by=actor.user if actor is not None and actor.user is not None else None,
        )
        holding = _latest(customer, platform, purpose)
        if holding is not None and holding.pk == row.pk and (before is None or before.granted != row.granted):
            events.publish(
                "consent.changed",
                brand_id=customer.brand_id,
                customer_id=customer.pk,
                platform=platform,
                purpose=purpose,
                granted=row.granted,
                source=row.source,
            )
        if actor is not None and (actor.user is not None or actor.api_key is not None):
            audit.record(
                actor,
                "consent.recorded",
                customer,
                platform=platform,
                purpose=purpose,
                granted=row.granted,
                source=row.source,
            )
    return row


# --- reading ---------------------------------------------------------------------------------------


def _contacts(customer: Customer, platform: str) -> list[Any]:
    return list(registry.chat_contacts().reach(customer, platform))


def _reachable(customer: Customer, platform: str) -> tuple[bool, str]:
    if platform in MESSAGING_PLATFORMS:
        contacts = _contacts(customer, platform)
        if not contacts:
            return False, reason("no_contact")
        if all(contact.blocked_at is not None for contact in contacts):
            return False, reason("blocked")
        return True, ""
    if platform == Consent.Platform.SMS:
        return (True, "") if customer.phone else (False, reason("no_contact"))
    if platform == Consent.Platform.EMAIL:
        return (True, "") if customer.email else (False, reason("no_contact"))
    return False, reason("unknown_platform", platform=platform)


def _decision(customer: Customer, platform: str, purpose: str, latest: Consent | None) -> dict[str, Any]:
    """The holding decision for one platform × purpose, explicit or by default."""
    if latest is not None:
        return {
            "granted": latest.granted,
            "source": latest.source,
            "recorded_at": latest.recorded_at,
            "explicit": True,
            "reason": reason("granted") if latest.granted else reason("withdrawn", source=latest.source),
        }
    if purpose == TRANSACTIONAL:
        return {
            "granted": True,
            "source": "",
            "recorded_at": None,
            "explicit": False,
            "reason": reason("transactional_default"),
        }
    if platform == Consent.Platform.LINE and any(
        contact.is_follower and contact.blocked_at is None for contact in _contacts(customer, platform)
    ):
        return {
            "granted": True,
            "source": "line.follow",
            "recorded_at": None,
            "explicit": False,
            "reason": reason("follower"),
        }
    return {
        "granted": False,
        "source": "",
        "recorded_at": None,
        "explicit": False,
        "reason": reason("no_consent"),
    }


def current_consent(customer: Customer) -> dict[str, dict[str, Any]]:
    """Every platform with its reachability and the holding decision per purpose, for the UI:

    {"line": {"label": "LINE", "reachable": True, "unreachable_reason": "",
              "purposes": {"marketing": {"label", "granted", "source", "recorded_at", "explicit", "reason"},
                           "transactional": {...}}}, ...}
    """
    latest: dict[tuple[str, str], Consent] = {}
    for row in Consent.objects.filter(brand_id=customer.brand_id, customer=customer).order_by(
        "recorded_at", "id"
    ):
        latest[(row.platform, row.purpose)] = row  # ascending: the last one seen holds
    result: dict[str, dict[str, Any]] = {}
    for platform, platform_label in Consent.Platform.choices:
        reachable, why = _reachable(customer, platform)
        purposes = {}
        for purpose, purpose_label in Consent.Purpose.choices:
            decision = _decision(customer, platform, purpose, latest.get((platform, purpose)))
            purposes[purpose] = {"label": purpose_label, **decision}
        result[platform] = {
            "label": platform_label,
            "reachable": reachable,
            "unreachable_reason": why,
            "purposes": purposes,
        }
    return result


def may_message(customer: Customer, platform: str, purpose: str) -> tuple[bool, str]:
    """(True, why) when a message of this purpose may go to the customer on this platform, else (False, why)."""
    if purpose not in Consent.Purpose.values:
        raise ConsentError("purpose", f"one of {', '.join(Consent.Purpose.values)}")
    if customer.erased_at is not None:
        return False, reason("erased")
    if platform not in Consent.Platform.values:
        return False, reason("unknown_platform", platform=platform)
    reachable, why = _reachable(customer, platform)
    if not reachable:
        return False, why
    decision = _decision(customer, platform, purpose, _latest(customer, platform, purpose))
    return decision["granted"], decision["reason"]


def history(customer: Customer) -> list[Consent]:
    """Every decision, newest first (the consent page and the PDPA export)."""
    return list(
        Consent.objects.filter(brand_id=customer.brand_id, customer=customer)
        .select_related("recorded_by")
        .order_by("-recorded_at", "-id")
    )


# --- the platforms: follow and block -------------------------------------------------------------


class ChatAccount(Protocol):
    @property
    def platform(self) -> str: ...


class FollowingContact(Protocol):
    """A chat contact that followed or blocked the brand's account (the inbox's Contact)."""

    @property
    def inbox(self) -> ChatAccount: ...

    @property
    def customer(self) -> Customer: ...


def on_follow(contact: FollowingContact, *, at: dt.datetime) -> None:
    """A follow (or unblock) on LINE: messages are welcome again (source line.follow)."""
    if contact.inbox.platform != Consent.Platform.LINE:
        return
    record_consent(
        contact.customer, platform="line", purpose=MARKETING, granted=True, source="line.follow", at=at
    )


def on_unfollow(contact: FollowingContact, *, at: dt.datetime) -> None:
    """A block on LINE: marketing consent withdrawn (source line.unfollow); the contact is unreachable."""
    if contact.inbox.platform != Consent.Platform.LINE:
        return
    record_consent(
        contact.customer, platform="line", purpose=MARKETING, granted=False, source="line.unfollow", at=at
    )
