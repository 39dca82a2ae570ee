"""REST endpoints of the RFM scores and lifecycle groups (docs/rfm.md):

- `GET /api/v1/segments/scores`: the last run (when, repurchase interval, cut points) and every
  ready-made segment with its members counted now;
- `POST /api/v1/segments/scores/refresh`: queue a recomputation (202; a second request while one
  is queued queues nothing more).

Brand-wide figures: HQ roles only (`scores.read`; refresh: `scores.refresh`, HQ admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from omo.core.api import ErrorOut, actor_of, allow
from omo.segments import score_overview, score_tasks

router = Router(tags=["segments"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut}


class ThresholdsOut(Schema):
    r: list[int] = Field(..., description="recency cut points in days (20th..80th percentile of buyers)")
    f: list[int] = Field(..., description="frequency cut points: counted orders")
    m: list[int] = Field(..., description="monetary cut points: net spend in minor units")
    top20: int | None = Field(..., description="12-month net spend (minor units) that enters the top 20%")


class ScoreGroupOut(Schema):
    key: str = Field(..., description="the ready-made segment's key, e.g. dormant or rfm_champions")
    heading: str
    name: str
    definition: str
    members: int
    segment_id: int | None
    rule: dict[str, Any]


class ScoresOut(Schema):
    computed_at: dt.datetime | None = Field(..., description="the last run; null before the first")
    requested_at: dt.datetime | None = Field(..., description="a run asked for and not started yet")
    customers: int
    buyers: int
    repurchase_days: int = Field(..., description="days without an order after which a buyer is dormant")
    repurchase_measured: bool = Field(..., description="false: too little history, the default of 90 days")
    repurchase_gaps: int
    thresholds: ThresholdsOut
    groups: list[ScoreGroupOut]


class RefreshOut(Schema):
    queued: bool = Field(..., description="false when a run was already queued")
    requested_at: dt.datetime


@router.get("/segments/scores", response={200: ScoresOut, **ERRORS}, auth=allow("scores.read"))
def get_scores(request: HttpRequest) -> dict[str, Any]:
    found = score_overview.overview(actor_of(request).brand.pk)
    return {
        "computed_at": found.computed_at,
        "requested_at": found.requested_at,
        "customers": found.customers,
        "buyers": found.buyers,
        "repurchase_days": found.repurchase_days,
        "repurchase_measured": found.repurchase_measured,
        "repurchase_gaps": found.repurchase_gaps,
        "thresholds": found.thresholds.as_json(),
        "groups": [group.__dict__ for group in found.groups],
    }


@router.post("/segments/scores/refresh", response={202: RefreshOut, **ERRORS}, auth=allow("scores.refresh"))
def refresh_scores(request: HttpRequest) -> Status:
    actor = actor_of(request)
    queued, requested_at = score_tasks.request_scores(actor.brand, actor=actor)
    return Status(202, {"queued": queued, "requested_at": requested_at})
