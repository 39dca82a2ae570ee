"""Shared pieces of the REST API: bearer-key auth with permissions, errors, pagination."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.security import HttpBearer
from pydantic import Field

from omo.core import access, apikeys, imports
from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.core.models import AuditLog, ImportJob, ImportKind

M = TypeVar("M", bound=Model)

MAX_PAGE_SIZE = 500
MAX_OFFSET = 1_000_000_000  # far past any real list; keeps OFFSET inside the databases' 64-bit range


class BearerKey(HttpBearer):
    """`Authorization: Bearer omo_…` → an Actor for the key's brand and role.

    With `permission`, the key's role must hold it. This runs before ninja parses the body, so a
    weaker role gets 403 (naming the permission) whatever it sent, never a 422 that would tell it
    more about the endpoint than it may know.
    """

    def __init__(self, permission: str | None = None, *alternatives: str):
        super().__init__()
        for name in (permission, *alternatives):
            if name is not None:
                access.check_permission(name)  # a typo in a permission name fails at import time
        self.permission = permission
        self.alternatives = alternatives

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        key = apikeys.authenticate(token)
        if key is None:
            return None
        actor = Actor.from_request(request, brand=key.brand, api_key=key, role=key.role)
        if self.permission is not None and not any(actor.can(name) for name in self.alternatives):
            require(actor, self.permission)
        _check_path_ids(request)
        return actor


def allow(permission: str, *alternatives: str) -> BearerKey:
    """The `auth=` of an endpoint: a valid key whose role holds `permission` (or one of the
    `alternatives`, where the endpoint narrows what each may do)."""
    return BearerKey(permission, *alternatives)


def _check_path_ids(request: HttpRequest) -> None:
    """An id in the path beyond any database integer names no row: 404 here, before a query that
    would fail on it (every endpoint with ids in its path is behind a key)."""
    match = request.resolver_match
    for name, value in (match.kwargs if match is not None else {}).items():
        if isinstance(value, str) and value.isdigit() and len(value) > 18 and int(value) > DB_INT_MAX:
            raise not_found(name.removesuffix("_id").replace("_", " "))
        if not fits_database(value):
            raise not_found(name.removesuffix("_id").replace("_", " "))


class ApiError(DomainError):
    """A refusal an endpoint states itself: a status, a stable code and a message (and field)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message, field=field, status=status, code=code, **extra)


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise HttpError(403, f"role {actor.role} may not {permission}")


def actor_of(request: HttpRequest) -> Actor:
    """The Actor that BearerKey put on the request."""
    return request.auth  # type: ignore[attr-defined, no-any-return]


class ErrorOut(Schema):
    detail: Any
    code: str | None = None
    field: str | None = None


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


DB_INT_MIN, DB_INT_MAX = -(2**63), 2**63 - 1  # what a database integer column can hold


def fits_database(value: Any) -> bool:
    """False for an integer no database column holds (an id from a path, say): no such row exists,
    and the query itself would fail (SQLite OverflowError, PostgreSQL out of range)."""
    return not isinstance(value, int) or DB_INT_MIN <= value <= DB_INT_MAX


def get_or_404(queryset: QuerySet[M], what: str, **lookup: Any) -> M:
    """One row of an already brand-filtered queryset, or a 404 that says what was missing."""
    if not all(fits_database(value) for value in lookup.values()):
        raise not_found(what)
    found = queryset.filter(**lookup).first()
    if found is None:
        raise not_found(what)
    return found


# --- pagination -------------------------------------------------------------------------------


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description=f"rows per page, at most {MAX_PAGE_SIZE}")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"rows to skip, at most {MAX_OFFSET}")


# What a bad page parameter answers (400, config/api.py turns ninja's validation error into it).
PAGE_PARAMS: dict[str, str] = {
    "limit": f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}",
    "offset": f"offset must be a whole number from 0 to {MAX_OFFSET}",
}


def page_param_error(errors: Iterable[dict[str, Any]]) -> tuple[str, str] | None:
    """(parameter, sentence) when one of ninja's validation errors is about `limit` or `offset` in
    the query string; None otherwise."""
    for error in errors:
        loc = tuple(error.get("loc") or ())
        if len(loc) == 2 and loc[0] == "query" and loc[1] in PAGE_PARAMS:
            return str(loc[1]), PAGE_PARAMS[str(loc[1])]
    return None


def page(
    queryset: QuerySet[Any], params: PageParams, out: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """`{total, limit, offset, items}` for one page of `queryset` (two queries: count and slice)."""
    total = queryset.count()
    rows: Iterable[Model] = queryset[params.offset : params.offset + params.limit]
    items = [out(row) for row in rows] if out is not None else list(rows)
    return {"total": total, "limit": params.limit, "offset": params.offset, "items": items}


def aware(value: dt.datetime | None, actor: Actor) -> dt.datetime | None:
    """A filter datetime; one without an offset is read in the brand's time zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zoneinfo.ZoneInfo(actor.brand.time_zone))


# --- core endpoints: audit log, CSV imports (API keys: omo.staff.api, where roles live) -------------------------------------------

router = Router(tags=["audit log and imports"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class AuditOut(Schema):
    id: int
    actor_label: str
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any]
    ip_address: str | None
    created_at: dt.datetime


class AuditPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[AuditOut]


class AuditFilters(Schema):
    action: str | None = None
    target_type: str | None = Field(None, description="e.g. customers.customer")
    target_id: str | None = None
    since: dt.datetime | None = None


class ImportErrorOut(Schema):
    row: int | None = Field(None, description="spreadsheet row: the header is row 1")
    field: str
    error: str


class ImportJobOut(Schema):
    id: int
    kind: str
    mode: str
    status: str
    filename: str
    total_rows: int
    processed_rows: int
    applied_rows: int
    error_rows: int
    progress: int = Field(..., description="percent of rows processed")
    errors: list[ImportErrorOut]
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_progress(job: ImportJob) -> int:
        return job.progress_percent


class ImportJobPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ImportJobOut]


@router.get("/audit-log", auth=allow("audit.read"), response={200: AuditPage, **ERRORS})
def list_audit_log(
    request: HttpRequest, filters: Query[AuditFilters], paging: Query[PageParams]
) -> dict[str, Any]:
    """Who did what, newest first."""
    actor = actor_of(request)
    entries = AuditLog.objects.filter(brand=actor.brand)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.target_type:
        entries = entries.filter(target_type=filters.target_type)
    if filters.target_id:
        entries = entries.filter(target_id=filters.target_id)
    if filters.since:
        entries = entries.filter(created_at__gte=aware(filters.since, actor))
    return page(entries.order_by("-created_at", "-id"), paging)


@router.post("/imports", auth=allow("imports.run"), response={202: ImportJobOut, **ERRORS})
def create_import(
    request: HttpRequest,
    file: File[UploadedFile],
    kind: Form[ImportKind],
    mode: Form[ImportJob.Mode] = ImportJob.Mode.VALID_ROWS,
) -> Status[ImportJob]:
    """Upload a CSV (multipart: `kind`, `file`, `mode`). The job runs in the background; poll it
    with GET /imports/{id}. Columns per kind: docs/csv-import.md."""
    actor = actor_of(request)
    job = imports.create_job(
        actor.brand, kind=kind, mode=mode, filename=file.name or "", raw=file.read(), actor=actor
    )
    return Status(202, job)


@router.get("/imports", auth=allow("imports.run"), response={200: ImportJobPage, **ERRORS})
def list_imports(request: HttpRequest, paging: Query[PageParams]) -> dict[str, Any]:
    jobs = ImportJob.objects.filter(brand=actor_of(request).brand).defer("content").order_by("-id")
    return page(jobs, paging)


@router.get("/imports/{job_id}", auth=allow("imports.run"), response={200: ImportJobOut, **ERRORS})
def get_import(request: HttpRequest, job_id: int) -> ImportJob:
    """Status, progress and the errors per row (row 1 is the header)."""
    jobs = ImportJob.objects.filter(brand=actor_of(request).brand).defer("content")
    return get_or_404(jobs, f"import {job_id}", pk=job_id)
