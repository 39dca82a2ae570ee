"""Opt-out and opt-in words in chat: the customer says 「取消訂閱」 and marketing stops.

Opt-out words (「取消訂閱」「退訂」「STOP」, the whole message, trimmed, any case) withdraw marketing
consent on that platform and are answered with the free reply; 「訂閱」/「START」 subscribe again.
An inbox may replace the lists with `config["opt_out_words"]` / `config["opt_in_words"]` (lists of
strings). The decision itself is recorded by omo.customers.consent (sources `chat.opt_out` and
`chat.opt_in`).
"""

from __future__ import annotations

from omo.customers import consent
from omo.inbox import ingest
from omo.inbox.ingest import InboundContext
from omo.inbox.models import Inbox, Message
from omo.inbox.outbound import queue_message

DEFAULT_OPT_OUT_WORDS = ("取消訂閱", "退訂", "STOP")
DEFAULT_OPT_IN_WORDS = ("訂閱", "START")
OPT_OUT_REPLY = "已為您取消訂閱行銷訊息。若要重新訂閱，請回覆「訂閱」。"
OPT_IN_REPLY = "已為您訂閱行銷訊息。若要取消訂閱，請回覆「取消訂閱」。"


def _words(inbox: Inbox, key: str, default: tuple[str, ...]) -> set[str]:
    configured = (inbox.config or {}).get(key)
    words = configured if isinstance(configured, list) and configured else default
    return {str(word).strip().casefold() for word in words if str(word).strip()}


def chat_word(inbox: Inbox, text: str) -> str | None:
    """ "opt_out", "opt_in" or None for a whole message (trimmed, any case)."""
    said = (text or "").strip().casefold()
    if not said:
        return None
    if said in _words(inbox, "opt_out_words", DEFAULT_OPT_OUT_WORDS):
        return "opt_out"
    if said in _words(inbox, "opt_in_words", DEFAULT_OPT_IN_WORDS):
        return "opt_in"
    return None


def _is_chat_word(ctx: InboundContext, message: Message) -> bool:
    return (
        ctx.inbox.platform in consent.MESSAGING_PLATFORMS and chat_word(ctx.inbox, message.text) is not None
    )


def handle_chat_words(ctx: InboundContext, message: Message) -> bool:
    """Inbound text handler: an opt-out / opt-in word changes marketing consent and is answered.

    The message stays in the conversation (recorded before handlers run); it is consumed, so it
    does not wait in a queue for a person to answer.
    """
    platform = ctx.inbox.platform
    if platform not in consent.MESSAGING_PLATFORMS:
        return False
    word = chat_word(ctx.inbox, message.text)
    if word is None:
        return False
    granted = word == "opt_in"
    consent.record_consent(
        ctx.contact.customer,
        platform=platform,
        purpose=consent.MARKETING,
        granted=granted,
        source="chat.opt_in" if granted else "chat.opt_out",
        note=(message.text or "").strip()[: consent.MAX_NOTE],
        at=ctx.occurred_at,
    )
    # No sender: a system answer, sent with this event's free reply token while it is fresh.
    queue_message(ctx.conversation, kind="text", text=OPT_IN_REPLY if granted else OPT_OUT_REPLY)
    return True


def register_handlers() -> None:
    """Hook the opt-out words into inbound processing (called from InboxConfig.ready)."""
    ingest.register_message_handler(handle_chat_words, name="inbox.consent_words", matches=_is_chat_word)
