"""Timeline events (who took a conversation over and why, closed, reopened) in the reader's language.

The event message keeps its facts in `payload` (omo.inbox.routing.assign, services.set_conversation_status);
screens say them with these words at display time, so a clerk reading English and an agent reading
Traditional Chinese each see one language. `Message.text` keeps the words written at the time
(zh-Hant / English) for exports and old rows without a payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import pgettext, pgettext_lazy

from omo.inbox.models import Message
from omo.staff.models import Store, User

REASONS = {
    "bound_clerk": pgettext_lazy("inbox event", "綁定店員值班中"),
    "clerk_off_shift": pgettext_lazy("inbox event", "綁定店員下班"),
    "clerk_departed": pgettext_lazy("inbox event", "綁定店員已離職"),
    "sla_breached": pgettext_lazy("inbox event", "超過回覆時限未回覆"),
    "store_closed": pgettext_lazy("inbox event", "門市非營業時間"),
    "store_owned": pgettext_lazy("inbox event", "門市團隊負責"),
    "unbound": pgettext_lazy("inbox event", "未綁定店員"),
    "manual": pgettext_lazy("inbox event", "手動指派"),
}


class EventNames:
    """The people and stores a page's events name, read in two queries."""

    def __init__(self, messages: Iterable[Message]) -> None:
        messages = list(messages)
        payloads = [m.payload or {} for m in messages if m.kind == Message.Kind.EVENT]
        brand_ids = {m.brand_id for m in messages}
        people = {p.get(key) for p in payloads for key in ("assignee_id", "actor_id")}
        people_ids = {value for value in people if isinstance(value, int)}
        store_ids = {value for value in (p.get("store_id") for p in payloads) if isinstance(value, int)}
        self.people: dict[Any, str] = (
            {u.pk: str(u) for u in User.objects.filter(brand_id__in=brand_ids, pk__in=people_ids)}
            if people_ids
            else {}
        )
        self.stores: dict[Any, str] = (
            {s.pk: str(s) for s in Store.objects.filter(brand_id__in=brand_ids, pk__in=store_ids)}
            if store_ids
            else {}
        )


def event_sentence(message: Message, names: EventNames) -> str:
    """The event in the active language; the stored text for events this module does not know."""
    payload = message.payload or {}
    event = payload.get("event")
    if event == "assigned":
        queue = payload.get("queue")
        if queue == "clerk" and payload.get("assignee_id"):
            target = pgettext("inbox event", "店員 %(name)s") % {
                "name": names.people.get(payload["assignee_id"], "—")
            }
        elif queue == "store":
            target = pgettext("inbox event", "門市團隊（%(store)s）") % {
                "store": names.stores.get(payload.get("store_id"), "—")
            }
        else:
            target = pgettext("inbox event", "總部客服")
        reason = str(payload.get("reason") or "")
        return pgettext("inbox event", "轉給 %(target)s：%(reason)s") % {
            "target": target,
            "reason": REASONS.get(reason, reason),
        }
    if event in ("closed", "reopened"):
        actor = names.people.get(payload.get("actor_id"), "")
        words = (
            pgettext("inbox event", "已結案") if event == "closed" else pgettext("inbox event", "重新開啟")
        )
        return (
            pgettext("inbox event", "%(event)s（%(actor)s）") % {"event": words, "actor": actor}
            if actor
            else words
        )
    return message.text
