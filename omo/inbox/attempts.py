"""What a platform's sending policy records while it sends one queued message
(omo/platforms/<platform>/sending.py): the conversation's reply token it takes, each attempt, the
way the message goes (reply or push) and the inbox's monthly quota. The outcome of the delivery is
recorded by omo.inbox.outbound.apply_outcome.

Each verb is one statement on one row, outside any long transaction: the sender calls them
between network calls.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F
from django.utils import timezone

from omo.inbox.models import Conversation, Inbox, Message


def take_reply_token(conversation_id: int, *, life: dt.timedelta) -> str | None:
    """The conversation's reply token if fresh (younger than `life`) and unused, consumed with a
    conditional UPDATE so that exactly one message ever uses it; None otherwise."""
    row = Conversation.objects.filter(pk=conversation_id).values("reply_token", "reply_token_at").first()
    if not row or not row["reply_token"] or row["reply_token_at"] is None:
        return None
    if timezone.now() - row["reply_token_at"] >= life:
        return None
    taken = Conversation.objects.filter(pk=conversation_id, reply_token=row["reply_token"]).update(
        reply_token="", reply_token_at=None
    )
    return str(row["reply_token"]) if taken == 1 else None


def count_attempt(message_id: int) -> None:
    """One more attempt at sending the message (counted before the request goes out)."""
    Message.objects.filter(pk=message_id).update(attempts=F("attempts") + 1)


def attempts_of(message_id: int) -> int:
    return Message.objects.filter(pk=message_id).values_list("attempts", flat=True).first() or 0


def set_sent_via(message_id: int, via: str) -> None:
    """How the message goes (Message.SentVia), recorded before the request that uses it."""
    Message.objects.filter(pk=message_id).update(sent_via=via)


def set_quota_exhausted(inbox_id: int, at: dt.datetime | None) -> None:
    """The platform refused for the month's quota (at that time), or sends again (None)."""
    Inbox.objects.filter(pk=inbox_id).update(quota_exhausted_at=at)
