"""What the outgoing webhooks hold about a person: the exact bodies sent (or waiting to be sent).

Erasure scrubs the person's values out of every stored body of the brand; the delivery rows stay,
so the history of what was sent, when, and with what answer adds up.
"""

from __future__ import annotations

from omo.customers import personal_data
from omo.customers.personal_data import Erasure, PersonalDataHandler
from omo.customers.privacy import scrub_rows
from omo.outgoing_webhooks.models import WebhookDelivery


class IntegrationsData(PersonalDataHandler):
    app_label = "integrations"
    order = 80

    def erase(self, erasure: Erasure) -> dict[str, int]:
        return {
            "outgoing_webhooks": scrub_rows(
                WebhookDelivery.objects.filter(endpoint__brand_id=erasure.brand_id), "body", erasure.needles
            )
        }


def register() -> None:
    """Called once from OutgoingWebhooksConfig.ready."""
    personal_data.register(IntegrationsData())
