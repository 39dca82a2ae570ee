"""What the segments app holds about a person: segment memberships, scores and predictions.

All of it is derived from other apps' data and recomputed: erasure deletes the rows (an erased
customer is in no segment), a merge or split leaves them to the refresh and the next score run that
its event triggers (omo/segments/subscribers.py), so nothing is re-pointed here.
"""

from __future__ import annotations

from omo.customers import personal_data
from omo.customers.personal_data import Erasure, PersonalDataHandler, Rows, rows
from omo.segments.models import CustomerPrediction, CustomerScore, Segment, SegmentMember


class SegmentsData(PersonalDataHandler):
    app_label = "segments"
    order = 90
    holds = ("segments.SegmentMember", "segments.CustomerScore", "segments.CustomerPrediction")

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        current = SegmentMember.objects.filter(
            customer_id__in=customer_ids, segment__brand_id=brand_id
        ).select_related("segment")
        memberships = [
            {"customer_id": row.customer_id, "segment_id": row.segment_id, "segment": row.segment.name}
            for row in current.order_by("segment_id")
            if row.version == row.segment.version
        ]
        mine = {"brand_id": brand_id, "customer_id__in": customer_ids}
        return {
            "segments": memberships,
            "customer_scores": rows(CustomerScore.objects.filter(**mine)),
            "customer_predictions": rows(CustomerPrediction.objects.filter(**mine)),
        }

    def erase(self, erasure: Erasure) -> dict[str, int]:
        ids = erasure.customer_ids
        segments = Segment.objects.filter(brand_id=erasure.brand_id).values("pk")
        members, _ = SegmentMember.objects.filter(segment_id__in=segments, customer_id__in=ids).delete()
        scores, _ = CustomerScore.objects.filter(brand_id=erasure.brand_id, customer_id__in=ids).delete()
        predictions, _ = CustomerPrediction.objects.filter(
            brand_id=erasure.brand_id, customer_id__in=ids
        ).delete()
        return {"segment_members": members, "customer_scores": scores, "customer_predictions": predictions}


def register() -> None:
    """Called once from the segments app's subscribers."""
    personal_data.register(SegmentsData())
