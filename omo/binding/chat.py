"""What binding needs from the conversations above it, filled in by omo.inbox at start-up.

Binding sits below the inbox: the inbox reads bindings to route conversations, so binding cannot
import the inbox back. The flows that start in binding itself (the LIFF page, transfers, a
clerk's recovery request) and every binding change still have to reach the chat: find the brand's
LINE account, make the customer's contact and conversation on a LIFF scan, route the customer's
conversations again, hand them to a store team, send a message. The inbox registers those verbs
here in its AppConfig.ready (omo/inbox/binding_flows.py); they run in the caller's transaction,
as the direct calls did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class LineInbox(Protocol):
    """A brand's LINE official account as binding reads it: the inbox's Inbox model is one."""

    @property
    def handle(self) -> str: ...  # the basic id, "@herb"

    @property
    def config(self) -> dict[str, Any] | None: ...  # "liff_id", "login_channel_id"


@dataclass(frozen=True)
class ChatSide:
    # The brand's first active LINE inbox (where binding links lead), or None.
    line_inbox: Callable[[int], LineInbox | None]
    # The customer behind a LINE user id on that inbox, with contact and conversation made on first sight.
    line_customer: Callable[..., Any]
    # The customer's latest LINE conversation that can still receive messages, or None.
    line_conversation: Callable[[int, Any], Any]
    # Queue an outgoing message in a conversation (queue_message's keyword arguments).
    send: Callable[..., Any]
    # Route the customer's conversations again: their binding changed.
    route_customer: Callable[[Any], Any]
    # The store team owns the customer's conversations.
    hand_to_store: Callable[[Any, Any], Any]


_side: ChatSide | None = None


def register(side: ChatSide) -> None:
    global _side
    _side = side


def side() -> ChatSide:
    if _side is None:
        raise RuntimeError("no chat side registered for binding: is omo.inbox in INSTALLED_APPS?")
    return _side
