"""Marking segments stale when something that can change their membership happened.

An event (an order, a tag, a binding, tracked events, a merge) marks the brand's segments whose rule
it can change (omo.segments.trees.changed_by) with `stale_since`; the first mark of a segment
enqueues `tasks.refresh_stale` for the brand a little later (REFRESH_DELAY), so a burst of orders
costs one refresh, run by the worker and never in the request. Segments already stale are left
alone: their refresh is already on its way. A segment being refreshed holds its row lock, so a mark
meanwhile waits for the refresh to commit and then marks it again.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from omo.segments import trees
from omo.segments.models import Segment

# How long a refresh waits after the first change, so the changes of a burst are refreshed together.
REFRESH_DELAY = dt.timedelta(seconds=30)


def _enqueue(brand_id: int, now: dt.datetime) -> None:
    from omo.segments import tasks  # tasks import the services, which mark dependents stale

    run_after = now + REFRESH_DELAY
    transaction.on_commit(lambda: tasks.refresh_stale.using(run_after=run_after).enqueue(brand_id))


def mark_segments(
    brand_id: int, segment_ids: list[int], cause: str, *, now: dt.datetime | None = None
) -> int:
    """Mark these segments of the brand stale (those not stale yet); returns how many were marked."""
    if not segment_ids:
        return 0
    now = now or timezone.now()
    marked = Segment.objects.filter(brand_id=brand_id, pk__in=segment_ids, stale_since__isnull=True).update(
        stale_since=now, stale_reason=cause[:20]
    )
    if marked:
        _enqueue(brand_id, now)
    return marked


def mark_stale(brand_id: int, cause: str, *, now: dt.datetime | None = None) -> int:
    """Mark the brand's segments that an event of `cause` can change; returns how many were marked."""
    candidates = Segment.objects.filter(brand_id=brand_id, stale_since__isnull=True).values_list(
        "pk", "kind", "rule"
    )
    affected = [
        pk
        for pk, kind, rule in candidates
        if (kind == Segment.Kind.STATIC and cause == trees.EVERY_SEGMENT)
        or (kind != Segment.Kind.STATIC and rule is not None and trees.changed_by(rule, cause))
    ]
    return mark_segments(brand_id, affected, cause, now=now)
