"""The sending interface the inbox delivers through, and the registry the platform adapters fill.

The inbox sits below the platform adapters (they read its models and feed `omo.inbox.ingest`), so
it does not import them: `omo.platforms` registers, in its AppConfig.ready, the function that gives
an inbox its sender. A sender applies the platform's sending policy to one queued Message and says
what happened as a `DeliveryOutcome`; `omo.inbox.outbound` records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from omo.inbox.models import Inbox, Message


class DeliveryState(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    RETRY_LATER = "retry_later"
    SKIPPED = "skipped"  # not ours to send now (already sent, or another worker holds it)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What a platform's sending policy did with one queued Message (see omo.inbox.outbound)."""

    state: DeliveryState
    via: str = ""  # Message.SentVia value
    external_id: str | None = None
    reason: str = ""  # readable, zh-Hant / English, for Message.failure_reason
    retry_after: float | None = None  # seconds, with RETRY_LATER


class Sender(Protocol):
    def deliver(self, message: Message) -> DeliveryOutcome: ...


SenderFor = Callable[["Inbox"], Sender]

_sender_for: SenderFor | None = None


def register_senders(sender_for: SenderFor) -> None:
    """Called once by the platform adapters' app: `sender_for(inbox)` gives that inbox's sender."""
    global _sender_for
    _sender_for = sender_for


def sender_for(inbox: Inbox) -> Sender:
    if _sender_for is None:
        raise RuntimeError("no platform senders registered: is omo.platforms in INSTALLED_APPS?")
    return _sender_for(inbox)
