"""What the platform adapters must do before a person's chat data is erased.

Under load the webhook edge stores a request whole (a WebhookIntake holding the raw body), and the
inbox's processing task later splits it into receipts with the platform's parser. Before the inbox
scrubs a person's receipts (omo/inbox/personal_data.py), the waiting intakes of their inboxes are
split here, so that no event of theirs is left inside a body nobody scrubs.
"""

from __future__ import annotations

from omo.customers import personal_data
from omo.customers.personal_data import Erasure, PersonalDataHandler
from omo.inbox.models import Contact, Inbox
from omo.platforms.tasks import expand_intakes


class PlatformData(PersonalDataHandler):
    app_label = "platforms"
    order = 39  # just before the inbox's handler (40), which scrubs the receipts

    def erase(self, erasure: Erasure) -> dict[str, int]:
        inbox_ids = Contact.objects.filter(
            brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids
        ).values_list("inbox_id", flat=True)
        for inbox in Inbox.objects.filter(pk__in=list(inbox_ids)).order_by("pk"):
            expand_intakes(inbox)
        return {}


def register() -> None:
    personal_data.register(PlatformData())
