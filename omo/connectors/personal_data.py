"""What the connectors hold about a person: Shopify's raw webhook payloads and its privacy requests.

Erasure scrubs the person's values out of the stored payloads (the rows stay, so a redelivery is
still recognised) and blanks the contact details of the privacy requests about them; the request
itself stays as the record of what was asked.
"""

from __future__ import annotations

from omo.connectors.models import PrivacyRequest, ShopifyWebhook
from omo.customers import personal_data
from omo.customers.personal_data import Erasure, PersonalDataHandler
from omo.customers.privacy import scrub_rows


class ConnectorsData(PersonalDataHandler):
    app_label = "connectors"
    order = 70
    holds = ("connectors.PrivacyRequest",)

    def erase(self, erasure: Erasure) -> dict[str, int]:
        counts = {
            "shopify_webhooks": scrub_rows(
                ShopifyWebhook.objects.filter(connection__brand_id=erasure.brand_id),
                "payload",
                erasure.needles,
            )
        }
        PrivacyRequest.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids).update(
            email="", phone=""
        )
        return counts


def register() -> None:
    """Called once from ConnectorsConfig.ready."""
    personal_data.register(ConnectorsData())
