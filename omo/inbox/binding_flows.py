"""The chat half of binding: what the inbox does for omo.binding, which sits below it.

- The inbound handlers for the prefilled `綁定專屬店員 #<code>` message and the recovery card's
  confirm / decline postbacks: binding decides and words the answer, the inbox sends it. No
  sender: a system answer, which the delivery sends with this event's free reply token while it
  is fresh (omo/inbox/outbound.py), else by push.
- The verbs binding's own flows need from the chat (omo/binding/chat.py): the brand's LINE
  account, the customer behind a LIFF scan, routing after a binding change, handing a customer
  to a store team, sending the recovery card.

`register()` runs once, from InboxConfig.ready.
"""

from __future__ import annotations

from typing import Any

from omo.binding import chat
from omo.binding import services as binding
from omo.customers.models import Customer
from omo.inbox import ingest, services
from omo.inbox.models import Conversation, Inbox, Message
from omo.inbox.outbound import queue_message

CODE_MESSAGE_HANDLER = "binding.code_message"


def _reply(conversation: Conversation, text: str) -> None:
    queue_message(conversation, kind="text", text=text)


def handle_code_message(ctx: ingest.InboundContext, message: Message) -> bool:
    """`綁定專屬店員 #<code>`: bind and confirm. True (consumed) when it bound or told who the clerk is."""
    answer = binding.answer_code_message(ctx.contact.customer, message.text or "", at=ctx.occurred_at)
    if answer is None:
        return False
    _reply(ctx.conversation, answer.message)
    return answer.consumed


def answer_recovery(ctx: ingest.InboundContext, data: str, params: dict[str, Any]) -> bool:
    """Postback handler for `bind:confirm:<token>` / `bind:decline:<token>`."""
    answer = binding.answer_recovery(ctx.contact.customer, data, at=ctx.occurred_at)
    _reply(ctx.conversation, answer.message)
    return True


# --- what binding asks of the chat -----------------------------------------------------------------


def line_inbox(brand_id: int) -> Inbox | None:
    return Inbox.objects.filter(brand_id=brand_id, platform="line", is_active=True).order_by("pk").first()


def line_customer(inbox: Inbox, line_user_id: str, *, display_name: str = "") -> Any:
    contact = ingest.get_or_create_contact(inbox, line_user_id, display_name=display_name)
    ingest.get_or_create_conversation(inbox, contact)
    return contact.customer


def line_conversation(brand_id: int, customer: Customer) -> Conversation | None:
    """The customer's latest LINE conversation whose contact has not blocked the account."""
    return (
        Conversation.objects.select_related("contact")
        .filter(
            brand_id=brand_id,
            customer=customer,
            inbox__platform="line",
            contact__blocked_at__isnull=True,
        )
        .order_by("-last_message_at")
        .first()
    )


def register() -> None:
    chat.register(
        chat.ChatSide(
            line_inbox=line_inbox,
            line_customer=line_customer,
            line_conversation=line_conversation,
            send=queue_message,
            route_customer=services.route_customer,
            hand_to_store=services.hand_customer_to_store,
        )
    )
    ingest.register_message_handler(
        handle_code_message,
        name=CODE_MESSAGE_HANDLER,
        matches=lambda ctx, message: binding.CODE_IN_TEXT.search(message.text or "") is not None,
    )
    ingest.register_postback_handler(binding.CONFIRM_PREFIX, answer_recovery)
    ingest.register_postback_handler(binding.DECLINE_PREFIX, answer_recovery)
