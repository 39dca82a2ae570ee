"""Sending in a conversation on behalf of an Actor (the conversations API): as the brand, or as a
staff member, a text or a product card, once per Idempotency-Key.

The message goes the way every message goes (omo.inbox.outbound.queue_message: stored as queued,
delivered in a task under the platform's rules: LINE's free reply token when fresh, else a push
with its retry key; the 24-hour window on Meta platforms; consent when a purpose is given).

Who sends:
- `as_staff` names the staff member the message is from (and whom a card's links credit). Only an
  HQ key (brand-wide) or the key of that very staff member may name one, and only someone who
  sees the conversation themselves;
- without it, a clerk's key sends as its clerk and any other key as the brand (no sender: like a
  bot, the customer's waiting time and unread count stay as they were).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from omo.core.audit import Actor
from omo.inbox import cards, selectors
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import OutboundError, queue_message
from omo.inbox.services import InboxError, _acting, _clear_unread, person_of
from omo.staff.models import User


@dataclass(frozen=True)
class Sent:
    message: Message
    created: bool  # False: the Idempotency-Key named a message sent before


def _sender(actor: Actor, conversation: Conversation, as_staff: int | None) -> User | None:
    if as_staff is None:
        return person_of(actor)
    staff = User.objects.filter(pk=as_staff, brand_id=actor.brand.pk, is_active=True).first()
    if staff is None:
        raise InboxError("as_staff", f"no active staff {as_staff} in this brand", status=404)
    if not actor.brand_wide and actor.user_id != staff.pk:
        raise InboxError(
            "as_staff", f"only an HQ key or the key of staff {as_staff} may send as them", status=403
        )
    if not selectors.can_view(staff, conversation):
        raise InboxError(
            "as_staff",
            f"staff {as_staff} does not handle this conversation (it is not among the ones they see)",
            status=409,
            code="not_their_conversation",
        )
    return staff


def _earlier(conversation: Conversation, idempotency_key: str) -> Message | None:
    if not idempotency_key:
        return None
    return Message.objects.filter(
        brand_id=conversation.brand_id, conversation=conversation, idempotency_key=idempotency_key
    ).first()


def send_message(
    conversation: Conversation,
    *,
    actor: Actor,
    as_staff: int | None = None,
    text: str = "",
    product_ids: Sequence[int] = (),
    variant_ids: Sequence[int] = (),
    alt_text: str = "",
    purpose: str | None = None,
    idempotency_key: str = "",
) -> Sent:
    """A text (`text`) or one product card (`product_ids` and/or `variant_ids`), never both.

    Refused with InboxError: 404 when the actor does not see the conversation; 409
    `conversation_closed` when it is closed (reopen it first); `as_staff` as described above; and
    whatever the card or the outbound path refuses (its field and code). The same
    `idempotency_key` on the same conversation answers the first message, sent once.
    """
    _acting(actor, conversation)
    earlier = _earlier(conversation, idempotency_key)
    if earlier is not None:
        return Sent(earlier, False)
    is_card = bool(product_ids) or bool(variant_ids)
    if is_card and text:
        raise InboxError(
            "text", "send either a text or a card (product_ids, variant_ids), not both", status=422
        )
    if not is_card and not text.strip():
        raise InboxError("text", "give a text, or product_ids / variant_ids for a card", status=422)
    if alt_text and not is_card:
        raise InboxError("alt_text", "alt_text belongs to a card", status=422)
    if conversation.status != Conversation.Status.OPEN:
        raise InboxError(
            "conversation",
            "the conversation is closed: reopen it before sending",
            status=409,
            code="conversation_closed",
        )
    sender = _sender(actor, conversation, as_staff)
    try:
        with transaction.atomic():
            if is_card:
                message = cards.send_product_card(
                    conversation,
                    actor=actor,
                    sender=sender,
                    product_ids=product_ids,
                    variant_ids=variant_ids,
                    alt_text=alt_text,
                    purpose=purpose,
                    idempotency_key=idempotency_key,
                )
            else:
                message = queue_message(
                    conversation,
                    kind=Message.Kind.TEXT,
                    text=text,
                    sender=sender,
                    purpose=purpose,
                    idempotency_key=idempotency_key,
                )
            if sender is not None:  # a person answered, as in the console and the clerk app
                _clear_unread(conversation)
    except (OutboundError, cards.CardError) as exc:
        raise InboxError(exc.field, exc.message, status=exc.status, code=exc.code, **exc.extra) from exc
    except IntegrityError:
        # The same key sent at the same moment by a second request: that one stored the message.
        earlier = _earlier(conversation, idempotency_key)
        if earlier is None:
            raise
        return Sent(earlier, False)
    return Sent(message, True)
