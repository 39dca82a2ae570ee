"""REST endpoints for segments: CRUD, members (paged), count history, why, preview, static lists.

HQ (admins and agents) create, change and preview segments (`segments.write`); every role reads them
(`segments.read`), members and counts narrowed to the customers the key sees
(omo/segments/selectors.py). A bad rule answers 422 `invalid_rule` with `field` naming the part of
the tree (`rule.all[1].value`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.core.api import ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.audit import Actor
from omo.customers.selectors import visible_customers
from omo.segments import selectors, services
from omo.segments.models import Segment, SegmentCount

router = Router(tags=["segments"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

RULE_HELP = (
    'the rule tree: {"all": [...]}, {"any": [...]}, {"not": node} or a condition '
    '{"field": ..., "op": ..., "value": ...}; see docs/segment-rules.md'
)


class SegmentIn(Schema):
    name: str = Field(..., max_length=services.NAME_MAX)
    description: str = Field("", max_length=services.DESCRIPTION_MAX)
    kind: Literal["rule", "static"] = Field("rule", description="rule, or static (a list uploaded as CSV)")
    rule: dict[str, Any] | None = Field(None, description=RULE_HELP)


class SegmentPatch(Schema):
    name: str | None = Field(None, max_length=services.NAME_MAX)
    description: str | None = Field(None, max_length=services.DESCRIPTION_MAX)
    rule: dict[str, Any] | None = Field(None, description=RULE_HELP)


class SegmentOut(Schema):
    id: int
    kind: str
    key: str
    name: str
    description: str
    rule: dict[str, Any] | None
    version: int
    member_count: int = Field(..., description="members the key sees (a store's or a clerk's own customers)")
    refreshed_at: dt.datetime | None
    stale_since: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[SegmentOut]


class MemberOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    member_number: str


class MemberPage(Schema):
    total: int
    limit: int
    offset: int
    version: int
    items: list[MemberOut]


class CountOut(Schema):
    version: int
    at: dt.datetime
    members: int
    added: int
    removed: int
    reason: str


class CountPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CountOut]


class PreviewIn(Schema):
    rule: dict[str, Any] = Field(..., description=RULE_HELP)
    segment_id: int | None = Field(
        None, description="the segment being edited (its own references are cycles)"
    )


class PreviewOut(Schema):
    count: int
    sample: list[MemberOut]


class WhyOut(Schema):
    customer_id: int
    member: bool
    sentence: str


class ListOut(Schema):
    members: int
    added: int
    removed: int


def _out(actor: Actor, segment: Segment) -> dict[str, Any]:
    fields = {name: getattr(segment, name) for name in SegmentOut.model_fields if name != "member_count"}
    return {**fields, "member_count": selectors.member_count_for(actor, segment)}


def _segment(actor: Actor, segment_id: int) -> Segment:
    return get_or_404(
        selectors.visible_segments(actor).select_related("brand"), f"segment {segment_id}", pk=segment_id
    )


@router.get("/segments", auth=allow("segments.read"), response={200: SegmentPage, **ERRORS})
def list_segments(request: HttpRequest, paging: Query[PageParams]) -> dict[str, Any]:
    """The brand's segments: rule, static and ready-made, by kind and name."""
    actor = actor_of(request)
    return page(selectors.visible_segments(actor), paging, out=lambda segment: _out(actor, segment))


@router.post("/segments", auth=allow("segments.write"), response={201: SegmentOut, **ERRORS})
def create_segment(request: HttpRequest, data: SegmentIn) -> Status[dict[str, Any]]:
    """A rule segment (its members are materialised at once) or an empty static one."""
    actor = actor_of(request)
    segment = services.create_segment(
        actor.brand, actor=actor, name=data.name, kind=data.kind, rule=data.rule, description=data.description
    )
    return Status(201, _out(actor, segment))


@router.post("/segments/preview", auth=allow("segments.write"), response={200: PreviewOut, **ERRORS})
def preview(request: HttpRequest, data: PreviewIn) -> dict[str, Any]:
    """How many customers a rule holds now and 10 of them (newest first), without saving anything."""
    actor = actor_of(request)
    if data.segment_id is not None:
        _segment(actor, data.segment_id)
    result = selectors.preview(actor, data.rule, segment_id=data.segment_id)
    return {"count": result.count, "sample": result.sample}


@router.get("/segments/{segment_id}", auth=allow("segments.read"), response={200: SegmentOut, **ERRORS})
def get_segment(request: HttpRequest, segment_id: int) -> dict[str, Any]:
    actor = actor_of(request)
    return _out(actor, _segment(actor, segment_id))


@router.patch("/segments/{segment_id}", auth=allow("segments.write"), response={200: SegmentOut, **ERRORS})
def update_segment(request: HttpRequest, segment_id: int, data: SegmentPatch) -> dict[str, Any]:
    """Change the name, description or rule (a new rule is materialised at once)."""
    actor = actor_of(request)
    segment = _segment(actor, segment_id)
    changes = data.model_dump(exclude_unset=True)
    for text in ("name", "description"):
        if text in changes and changes[text] is None:
            changes[text] = ""
    services.update_segment(segment, actor=actor, **changes)
    return _out(actor, _segment(actor, segment_id))


@router.delete("/segments/{segment_id}", auth=allow("segments.write"), response={204: None, **ERRORS})
def delete_segment(request: HttpRequest, segment_id: int) -> Status[None]:
    """Ready-made segments and segments that others' rules read cannot be deleted (409)."""
    actor = actor_of(request)
    services.delete_segment(_segment(actor, segment_id), actor=actor)
    return Status(204, None)


@router.get(
    "/segments/{segment_id}/members", auth=allow("segments.read"), response={200: MemberPage, **ERRORS}
)
def list_members(request: HttpRequest, segment_id: int, paging: Query[PageParams]) -> dict[str, Any]:
    """The current members the key may see, newest customers first."""
    actor = actor_of(request)
    segment = _segment(actor, segment_id)
    return {**page(selectors.members_for(actor, segment), paging), "version": segment.version}


@router.get("/segments/{segment_id}/counts", auth=allow("segments.read"), response={200: CountPage, **ERRORS})
def list_counts(request: HttpRequest, segment_id: int, paging: Query[PageParams]) -> dict[str, Any]:
    """The history of the segment's size: one row per refresh, newest first (whole-brand counts)."""
    segment = _segment(actor_of(request), segment_id)
    counts = SegmentCount.objects.filter(segment=segment).order_by("-at", "-id")
    return page(counts, paging)


@router.get(
    "/segments/{segment_id}/why/{customer_id}", auth=allow("segments.read"), response={200: WhyOut, **ERRORS}
)
def why(request: HttpRequest, segment_id: int, customer_id: int) -> dict[str, Any]:
    """Why a customer is or is not in the segment, as a sentence in the request's language."""
    actor = actor_of(request)
    segment = _segment(actor, segment_id)
    customer = get_or_404(visible_customers(actor), f"customer {customer_id}", pk=customer_id)
    answer = selectors.explain_for(segment, customer)
    return {"customer_id": customer.pk, "member": answer.member, "sentence": answer.sentence}


@router.post(
    "/segments/{segment_id}/list",
    auth=allow("segments.write"),
    response={200: ListOut, **ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a CSV (UTF-8 or Big5) with a header naming phone, email and/or member_number",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def upload_list(request: HttpRequest, segment_id: int) -> dict[str, Any]:
    """Replace a static segment's members with the customers of a CSV; any bad row refuses the file
    (422 `invalid_list`, every bad row in `errors`)."""
    actor = actor_of(request)
    segment = _segment(actor, segment_id)
    count = services.upload_static_list(segment, request.body, actor=actor)
    return {"members": count.members, "added": count.added, "removed": count.removed}
