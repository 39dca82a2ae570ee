"""What the platform adapters must do before a person's chat data is erased.

Under load the webhook edge stores a request whole (a WebhookIntake holding the raw body), and the
inbox's processing task later splits it into receipts with the platform's parser. Before the inbox
scrubs a person's receipts (omo/inbox/personal_data.py), the waiting intakes of their inboxes are
split here, so that no event of theirs is left inside a body nobody scrubs; a quarantined request
that holds one of their user ids is deleted whole (it cannot be split).
"""

from __future__ import annotations

from omo.customers import personal_data
from omo.customers.personal_data import Erasure, PersonalDataHandler
from omo.inbox import receipts
from omo.inbox.models import Contact, Inbox
from omo.platforms.tasks import expand_intakes


class PlatformData(PersonalDataHandler):
    app_label = "platforms"
    order = 39  # just before the inbox's handler (40), which scrubs the receipts

    def erase(self, erasure: Erasure) -> dict[str, int]:
        contacts = Contact.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids)
        user_ids: dict[int, list[bytes]] = {}
        for inbox_id, user_id in contacts.values_list("inbox_id", "external_user_id"):
            user_ids.setdefault(inbox_id, []).append(user_id.encode())
        erased = 0
        for inbox in Inbox.objects.filter(pk__in=list(user_ids)).order_by("pk"):
            expand_intakes(inbox)
            # A quarantined request holding one of their events cannot be split: it goes whole.
            erased += receipts.delete_quarantined_intakes_holding(inbox.pk, user_ids[inbox.pk])
        return {"quarantined_requests": erased} if erased else {}


def register() -> None:
    personal_data.register(PlatformData())
