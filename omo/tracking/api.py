"""REST endpoints for tracking sources (write keys for the Segment-spec /v1/* calls). HQ admin only."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.core.api import ErrorOut, PageParams, actor_of, allow, get_or_404
from omo.tracking import selectors, services
from omo.tracking.models import TrackingSourceKind

router = Router(tags=["tracking"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PERMISSION = "tracking.sources"


class SourceIn(Schema):
    name: str = Field(..., min_length=1, max_length=services.MAX_SOURCE_NAME)
    kind: TrackingSourceKind = Field(TrackingSourceKind.WEB, description="web | server | pos | app")


class SourceOut(Schema):
    id: int
    name: str
    kind: str
    prefix: str
    shop: bool = Field(..., description="the built-in shop's own source, made by the shop")
    created_at: dt.datetime
    last_seen_at: dt.datetime | None = Field(..., description="when a call with this key was last accepted")
    events_24h: int
    revoked_at: dt.datetime | None


class NewSourceOut(SourceOut):
    write_key: str = Field(..., description="the write key itself; shown once, never again")


class SourcePage(Schema):
    total: int
    limit: int
    offset: int
    items: list[SourceOut]


class RevokeParams(Schema):
    confirm_shop: bool = Field(
        False, description="required to revoke the built-in shop's own source (stops the shop's tracking)"
    )


def _out(summary: selectors.SourceSummary) -> dict:
    source = summary.source
    return {
        "id": source.pk,
        "name": source.name,
        "kind": source.kind,
        "prefix": source.prefix,
        "shop": source.is_shop,
        "created_at": source.created_at,
        "last_seen_at": summary.last_seen_at,
        "events_24h": summary.events_24h,
        "revoked_at": source.revoked_at,
    }


@router.get("/tracking/sources", auth=allow(PERMISSION), response={200: SourcePage, **ERRORS})
def list_sources(request: HttpRequest, paging: Query[PageParams]):
    """The brand's tracking sources, newest first, with their events of the last 24 hours."""
    sources = selectors.visible_sources(actor_of(request)).order_by("-created_at", "-id")
    rows = list(sources[paging.offset : paging.offset + paging.limit])
    return {
        "total": sources.count(),
        "limit": paging.limit,
        "offset": paging.offset,
        "items": [_out(summary) for summary in selectors.summaries(rows)],
    }


@router.post("/tracking/sources", auth=allow(PERMISSION), response={201: NewSourceOut, **ERRORS})
def create_source(request: HttpRequest, data: SourceIn):
    """A new write key (HTTP Basic user name for /v1/*). The response carries it once; store it."""
    actor = actor_of(request)
    source, write_key = services.create_source(actor.brand, name=data.name, kind=data.kind, actor=actor)
    return Status(201, {**_out(selectors.summaries([source])[0]), "write_key": write_key})


def _revoke(request: HttpRequest, source_id: int, confirm_shop: bool) -> dict:
    actor = actor_of(request)
    source = get_or_404(selectors.visible_sources(actor), f"tracking source {source_id}", pk=source_id)
    services.revoke_source(source, actor=actor, confirm_shop=confirm_shop)
    return _out(selectors.summaries([source])[0])


@router.delete("/tracking/sources/{source_id}", auth=allow(PERMISSION), response={200: SourceOut, **ERRORS})
def delete_source(request: HttpRequest, source_id: int, params: Query[RevokeParams]):
    """Revoke the source: calls with its key answer 401 from now on. The row and its events stay."""
    return _revoke(request, source_id, params.confirm_shop)


@router.post(
    "/tracking/sources/{source_id}/revoke", auth=allow(PERMISSION), response={200: SourceOut, **ERRORS}
)
def revoke_source(request: HttpRequest, source_id: int, params: Query[RevokeParams]):
    """The same as DELETE, for clients that cannot send one."""
    return _revoke(request, source_id, params.confirm_shop)
