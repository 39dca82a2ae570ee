"""What attribution holds about a person: tracked links issued to them and their clicks.

On erasure a click keeps its time, link and customer (commission stays explainable) and loses
the browser it came from.
"""

from __future__ import annotations

from omo.attribution.models import Click, LinkIssue
from omo.customers import personal_data
from omo.customers.personal_data import Erasure, Moves, PersonalDataHandler, Rows, rows


class AttributionData(PersonalDataHandler):
    app_label = "attribution"
    order = 60
    holds = ("attribution.LinkIssue", "attribution.Click")

    def moves(self) -> Moves:
        return ((LinkIssue, "customer"), (Click, "customer"))

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        return {
            "clicks": rows(
                Click.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by(
                    "clicked_at", "id"
                )
            )
        }

    def erase(self, erasure: Erasure) -> dict[str, int]:
        clicks = Click.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids)
        return {"clicks": clicks.update(user_agent="", ip_address=None, session_key="")}


def register() -> None:
    """Called once from AttributionConfig.ready."""
    personal_data.register(AttributionData())
