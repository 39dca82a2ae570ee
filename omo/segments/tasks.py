"""Background refreshes of segment membership: after events (debounced) and once a day."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q, QuerySet
from django_tasks import task

from omo.core.errors import DomainError
from omo.core.models import Brand
from omo.segments import services, trees
from omo.segments.models import Segment

logger = logging.getLogger(__name__)

# A refresh that changes a segment marks the segments reading it stale; they are refreshed in the
# next round of the same task (the engine refuses cycles, so rounds end; this is a backstop).
MAX_ROUNDS = 10


def _refresh_in_order(segments: QuerySet[Segment], reason: str | None) -> dict[int, int]:
    """Refresh these segments, each after the segments it reads; returns members per segment.

    A segment with neither a rule nor a list (a ready-made one whose members another pass writes)
    is left as it is."""
    segments = segments.filter(Q(kind=Segment.Kind.STATIC) | Q(rule__isnull=False))
    rows = {
        pk: (rule, stale_reason)
        for pk, rule, stale_reason in segments.values_list("pk", "rule", "stale_reason")
    }
    done: dict[int, int] = {}
    for pk in trees.in_dependency_order((pk, rule) for pk, (rule, _r) in rows.items()):
        segment = Segment.objects.filter(pk=pk).select_related("brand").first()
        if segment is None:  # deleted meanwhile
            continue
        try:
            count = services.refresh(segment, reason or rows[pk][1] or "event")
        except DomainError as exc:
            # A stored rule the engine now refuses (a store or segment it named was deleted): keep the
            # last membership, stop retrying until the rule is edited or the daily pass runs.
            logger.warning("segment %s not refreshed: %s", pk, exc)
            Segment.objects.filter(pk=pk).update(stale_since=None, stale_reason="")
            continue
        done[pk] = count.members
    return done


@task()
def refresh_stale(brand_id: int) -> dict[str, Any]:
    """Refresh the brand's stale segments (omo.segments.stale enqueues this after a change)."""
    refreshed: dict[int, int] = {}
    for _round in range(MAX_ROUNDS):
        stale = Segment.objects.filter(brand_id=brand_id, stale_since__isnull=False)
        if not stale.exists():
            break
        refreshed.update(_refresh_in_order(stale, None))
    return {"brand_id": brand_id, "refreshed": len(refreshed)}


def refresh_brand(brand: Brand, reason: str = "daily") -> dict[int, int]:
    """Every segment of the brand, in dependency order (rules with relative time move every day)."""
    return _refresh_in_order(Segment.objects.filter(brand=brand), reason)


@task()
def daily_refresh(brand_id: int) -> dict[str, Any]:
    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is None:
        return {"brand_id": brand_id, "skipped": "brand deleted"}
    return {"brand_id": brand_id, "refreshed": len(refresh_brand(brand))}


@task()
def daily_refresh_all_brands() -> int:
    """The daily pass: one task per brand that has segments."""
    brand_ids = list(Segment.objects.order_by().values_list("brand_id", flat=True).distinct())
    for brand_id in brand_ids:
        daily_refresh.enqueue(brand_id)
    return len(brand_ids)
