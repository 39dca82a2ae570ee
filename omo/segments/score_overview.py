"""What the groups page (顧客分群) and `GET /api/v1/segments/scores` show: every ready-made
segment with its name and definition in the reader's language and its members counted from
`CustomerScore` now, plus the brand's last run (when, the repurchase interval, the cut points)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from omo.segments import ready_made, scores
from omo.segments.models import ScoreRun, Segment


@dataclass(frozen=True)
class Group:
    key: str
    heading: str
    name: str
    definition: str
    members: int
    segment_id: int | None
    rule: dict[str, Any]


@dataclass(frozen=True)
class Overview:
    computed_at: dt.datetime | None
    requested_at: dt.datetime | None
    customers: int
    buyers: int
    repurchase_days: int
    repurchase_measured: bool
    repurchase_gaps: int
    thresholds: scores.Thresholds
    groups: list[Group]


def overview(brand_id: int) -> Overview:
    """Four queries whatever the brand's size: the run, the counts, the segments."""
    run = ScoreRun.objects.filter(brand_id=brand_id).first()
    interval = (
        ready_made.Interval(run.repurchase_days, run.repurchase_measured)
        if run is not None and run.computed_at is not None
        else ready_made.Interval()
    )
    counts = scores.group_counts(brand_id)
    segment_ids = dict(
        Segment.objects.filter(brand_id=brand_id, kind=Segment.Kind.READY_MADE).values_list("key", "pk")
    )
    groups = [
        Group(
            key=definition.key,
            heading=str(ready_made.GROUPS[definition.group]),
            name=str(definition.name),
            definition=definition.define(interval),
            members=counts.get(definition.count_key, 0),
            segment_id=segment_ids.get(definition.key),
            rule=definition.rule,
        )
        for definition in ready_made.READY_MADE
    ]
    computed = run is not None and run.computed_at is not None
    return Overview(
        computed_at=run.computed_at if run is not None else None,
        requested_at=run.requested_at if run is not None else None,
        customers=counts["customers"],
        buyers=counts["buyers"],
        repurchase_days=interval.days,
        repurchase_measured=interval.measured,
        repurchase_gaps=run.repurchase_gaps if computed and run is not None else 0,
        thresholds=scores.Thresholds.from_json(run.thresholds if run is not None else {}),
        groups=groups,
    )
