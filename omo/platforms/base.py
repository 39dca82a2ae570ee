"""The one interface every messaging platform adapter implements (LINE first; Meta, WhatsApp later).

Domain code never imports a platform SDK: the inbox sends through the sender registry it defines
(omo/inbox/delivery.py), which omo.platforms fills with `get_adapter` at start-up. An adapter is
the wire: it verifies and parses what the platform sends, sends what we say, and states the
platform's limits as data so that policies (rate limits, reply windows, batching) read numbers
instead of hard-coding them.

Shape of a round trip:

    edge  ──WebhookVerifier.verify(headers, raw_body)──► receipt_rows(document) ──► WebhookReceipt rows
    task  ──parse_event(receipt.payload)──► InboundEvent ──► platform inbound handler ──► omo.inbox.ingest
    outbound.deliver_message ──► adapter.deliver(message) ──► send(OutboundRequest) per attempt
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from omo.core.errors import DomainError

# Defined by the inbox, which delivers through adapters without importing them; adapters build them.
from omo.inbox.delivery import DeliveryOutcome as DeliveryOutcome
from omo.inbox.delivery import DeliveryState as DeliveryState

if TYPE_CHECKING:
    from omo.inbox.models import Inbox, Message


# --- limits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `rate` requests per `per_seconds`, bursting up to `burst` (default: rate)."""

    rate: float
    per_seconds: float = 1.0
    burst: float | None = None

    @property
    def per_second(self) -> float:
        return self.rate / self.per_seconds

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else self.rate


@dataclass(frozen=True)
class PlatformLimits:
    """What the platform allows, as data. Policies read these instead of hard-coding numbers."""

    max_messages_per_request: int
    max_text_length: int
    max_cards_per_carousel: int
    max_recipients_per_multicast: int
    rate_limits: Mapping[str, RateLimit]
    # A free, single-use reply handle (LINE reply token) and how long we trust it; None = no such thing.
    reply_token_life: dt.timedelta | None
    # How long a webhook may take before the platform counts it as failed.
    webhook_deadline: dt.timedelta
    # Largest webhook body the edge accepts (413 above it).
    max_webhook_body_bytes: int = 1024 * 1024


# --- inbound -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptRow:
    """One platform event as the edge stores it (WebhookReceipt), before any parsing with the SDK."""

    event_id: str
    event_type: str
    occurred_at: dt.datetime | None
    payload: dict[str, Any]


def stable_event_id(event: Mapping[str, Any]) -> str:
    """An id for an event that carries none: the same JSON always gives the same id (redeliveries dedupe)."""
    try:
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:64]


@dataclass(frozen=True)
class InboundEvent:
    """A parsed platform event, platform-neutral on the outside, with the SDK model inside.

    `event_type` is the platform's own name (LINE: "message", "follow", "postback", …; anything
    the SDK does not know keeps its raw type and `known=False`). `model` is the SDK object
    (LINE: a linebot.v3.webhooks Event subclass, or UnknownEvent); only platform code reads it.
    """

    event_id: str
    event_type: str
    occurred_at: dt.datetime | None
    source_type: str  # "user" | "group" | "room" | "" (no source, e.g. a failed account link)
    user_id: str | None
    chat_id: str | None  # group or room id for multi-person chats
    reply_token: str | None
    is_redelivery: bool
    standby: bool
    known: bool
    raw: dict[str, Any]
    model: Any = None
    problem: str = ""  # when known is False: what the SDK's model refused, in a sentence

    @property
    def is_one_to_one(self) -> bool:
        return self.source_type == "user" and bool(self.user_id)

    @property
    def one_to_one_user_id(self) -> str | None:
        """The user of a 1:1 chat with the account; None in a group or room, or without a user."""
        return self.user_id if self.is_one_to_one else None


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str = ""
    status_message: str = ""
    language: str = ""


@dataclass(frozen=True)
class Content:
    """Media a user sent. `ready=False` means the platform is still preparing it (LINE 202 / transcoding)."""

    data: bytes = b""
    content_type: str = "application/octet-stream"
    ready: bool = True


# --- outbound ----------------------------------------------------------------------------------


class Endpoint(StrEnum):
    REPLY = "reply"
    PUSH = "push"
    MULTICAST = "multicast"


@dataclass(frozen=True)
class OutboundRequest:
    """One send attempt: up to `max_messages_per_request` platform message objects to one or many users.

    `reply_token` set → a (free) reply; else `to` is one user (push) or a list (multicast).
    `retry_key` must be the same on every attempt of the same logical send (idempotency).
    """

    messages: list[dict[str, Any]]
    to: str | list[str] | None = None
    reply_token: str | None = None
    retry_key: str | None = None
    notification_disabled: bool = False

    @property
    def endpoint(self) -> Endpoint:
        if self.reply_token:
            return Endpoint.REPLY
        return Endpoint.MULTICAST if isinstance(self.to, list) else Endpoint.PUSH


class SendStatus(StrEnum):
    SENT = "sent"  # accepted now
    ALREADY_ACCEPTED = (
        "already_accepted"  # a retry of a request the platform had accepted (LINE 409): success
    )
    TRANSIENT = "transient"  # 5xx, time-out, connection error: retry with backoff (same retry key)
    RATE_LIMITED = "rate_limited"  # 429 rate limit: try again later
    QUOTA_EXHAUSTED = "quota_exhausted"  # monthly quota used up: do not retry this month
    INVALID_REPLY_TOKEN = "invalid_reply_token"  # expired or used: send as push instead
    REJECTED = "rejected"  # any other 4xx: never retried


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    endpoint: Endpoint
    http_status: int = 0
    request_id: str = ""
    message_ids: list[str] = field(default_factory=list)
    error: str = ""  # the platform's own error text, for logs and failure reasons

    @property
    def ok(self) -> bool:
        return self.status in (SendStatus.SENT, SendStatus.ALREADY_ACCEPTED)


class PlatformError(DomainError):
    """A platform call failed in a way the caller may retry later (network, 5xx)."""

    status = 502
    code = "platform_unavailable"


# Failure reasons people read in the clerk app and the console: zh-Hant first, then English,
# stored in Message.failure_reason (≤300 chars) so that every screen shows the same words.
FAILURE_REASONS: dict[str, tuple[str, str]] = {
    "quota_exhausted": (
        "本月訊息額度已用完，推播訊息暫停發送（回覆訊息仍可使用）。請升級方案或等下個月。",
        "Monthly message quota reached: pushes are paused (free replies still work). "
        "Upgrade the plan or wait for next month.",
    ),
    "rejected": ("LINE 拒絕了這則訊息", "LINE rejected this message"),
    "unreachable": ("顧客已封鎖官方帳號，無法傳送。", "The customer has blocked the account; cannot send."),
    "no_recipient": ("找不到收件人（沒有平台使用者 ID）。", "No recipient (no platform user id)."),
    "gave_up": (
        "LINE 暫時無法連線，多次重試後仍失敗。",
        "LINE was unreachable; gave up after several retries.",
    ),
    "rate_limited": ("LINE 流量限制，多次重試後仍失敗。", "LINE rate limit; gave up after several retries."),
    "uncertain": (
        "無法確認回覆是否已送達，為避免重複傳送而未重送。",
        "Could not confirm whether the reply arrived; not re-sent to avoid a duplicate.",
    ),
    "unsupported": ("此平台不支援這種訊息。", "This platform does not support this kind of message."),
    "inactive_inbox": ("收件匣已停用。", "The inbox is disabled."),
}


def failure_reason(code: str, detail: str = "") -> str:
    """'zh-Hant（detail） / English (detail)', cut to fit Message.failure_reason."""
    zh, en = FAILURE_REASONS[code]
    if detail:
        detail = " ".join(detail.split())[:120]
        zh, en = f"{zh}（{detail}）", f"{en} ({detail})"
    return f"{zh} / {en}"[:300]


# --- the edge side ---------------------------------------------------------------------------------


class WebhookVerifier(Protocol):
    """What the webhook edge needs of a platform: cheap, no SDK, no database (omo/platforms/edge.py)."""

    platform: str
    limits: PlatformLimits

    @classmethod
    def for_inbox(cls, inbox: Inbox) -> WebhookVerifier: ...

    def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Is this request really from the platform? `headers` keys are lower-case."""
        ...

    def receipt_rows(self, document: Any) -> list[ReceiptRow]:
        """One row per event of the decoded body; ValueError when the shape is wrong."""
        ...


# --- the adapter -------------------------------------------------------------------------------


class PlatformAdapter(ABC):
    """One connected account's wire to its platform. Built by `omo.platforms.get_adapter(inbox)`."""

    platform: str
    limits: PlatformLimits

    # Edge side: cheap, no SDK, no database.
    @abstractmethod
    def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Is this request really from the platform? `headers` keys are lower-case."""

    @classmethod
    @abstractmethod
    def receipt_rows(cls, document: Any) -> list[ReceiptRow]:
        """Split a decoded webhook body into one row per event; raises ValueError when the shape is wrong."""

    # Task side: SDK parsing and calls.
    @abstractmethod
    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        """Every event in a webhook body, parsed with the platform SDK (unknown types kept, never raised)."""

    @abstractmethod
    def parse_event(self, event: dict[str, Any]) -> InboundEvent:
        """One stored event (WebhookReceipt.payload) parsed with the platform SDK."""

    @abstractmethod
    def send(self, request: OutboundRequest) -> SendResult:
        """One HTTP attempt, classified. Never raises for HTTP or network errors."""

    @abstractmethod
    def fetch_profile(self, external_user_id: str) -> Profile | None:
        """The user's public profile; None when the platform has none for us (blocked, unknown)."""

    @abstractmethod
    def fetch_content(self, message_id: str) -> Content | None:
        """Media the user sent; None when it does not exist (or no longer)."""

    @abstractmethod
    def render(self, message: Message) -> list[dict[str, Any]]:
        """A queued omo Message as platform message objects (validated), ready for `send`."""

    @abstractmethod
    def deliver(self, message: Message) -> DeliveryOutcome:
        """Send one queued Message following the platform's sending policy (see omo.inbox.outbound)."""
