"""REST endpoints for stores, stock locations, staff (read) and API keys (whose roles live here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.catalog.selectors import visible_locations
from omo.core import apikeys
from omo.core.api import ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.models import ApiKey
from omo.staff.roles import Role
from omo.staff.selectors import store_directory, visible_staff

router = Router(tags=["stores and staff"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
KEY_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut}


class StoreOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    city: str
    address: str
    phone: str
    opening_hours: dict[str, Any]
    is_active: bool


class StorePage(Schema):
    total: int
    limit: int
    offset: int
    items: list[StoreOut]


class LocationOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    store_id: int | None
    ships_online_orders: bool
    is_active: bool


class LocationPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[LocationOut]


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    store_id: int | None
    employee_code: str
    is_active: bool


class StaffPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[StaffOut]


class StaffFilters(Schema):
    store_id: int | None = None
    role: str | None = Field(None, description="hq_admin | hq_agent | store_manager | clerk")


class ApiKeyIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    role: Role = Role.HQ_ADMIN
    store_id: int | None = Field(None, description="required for a store_manager key: the store it works for")
    staff_id: int | None = Field(None, description="required for a clerk key: the clerk it acts for")


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    role: str
    store_id: int | None
    staff_id: int | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewApiKeyOut(ApiKeyOut):
    secret: str = Field(..., description="the key itself; shown once, never again")


class ApiKeyPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ApiKeyOut]


@router.get("/stores", auth=allow("catalog.read"), response={200: StorePage, **ERRORS})
def list_stores(request: HttpRequest, paging: Query[PageParams]):
    return page(store_directory(actor_of(request)).order_by("code"), paging)


@router.get("/stores/{store_id}", auth=allow("catalog.read"), response={200: StoreOut, **ERRORS})
def get_store(request: HttpRequest, store_id: int):
    return get_or_404(store_directory(actor_of(request)), f"store {store_id}", pk=store_id)


@router.get("/locations", auth=allow("catalog.read"), response={200: LocationPage, **ERRORS})
def list_locations(request: HttpRequest, paging: Query[PageParams]):
    """Where stock sits: stores and warehouses."""
    return page(visible_locations(actor_of(request)).order_by("kind", "code"), paging)


@router.get("/locations/{location_id}", auth=allow("catalog.read"), response={200: LocationOut, **ERRORS})
def get_location(request: HttpRequest, location_id: int):
    return get_or_404(visible_locations(actor_of(request)), f"location {location_id}", pk=location_id)


@router.get("/staff", auth=allow("staff.read"), response={200: StaffPage, **ERRORS})
def list_staff(request: HttpRequest, filters: Query[StaffFilters], paging: Query[PageParams]):
    """Staff of the brand; a store manager sees their own store's team."""
    actor = actor_of(request)
    staff = visible_staff(actor)
    if filters.store_id is not None:
        staff = staff.filter(store_id=filters.store_id)
    if filters.role:
        staff = staff.filter(role=filters.role)
    return page(staff.order_by("store_id", "username"), paging)


# --- API keys ---------------------------------------------------------------------------------


@router.get("/api-keys", auth=allow("apikeys.manage"), response={200: ApiKeyPage, **KEY_ERRORS})
def list_api_keys(request: HttpRequest, paging: Query[PageParams]):
    return page(ApiKey.objects.filter(brand=actor_of(request).brand).order_by("-id"), paging)


@router.post("/api-keys", auth=allow("apikeys.manage"), response={201: NewApiKeyOut, **KEY_ERRORS})
def create_api_key(request: HttpRequest, data: ApiKeyIn):
    """A new key for an integration. The response carries the secret once; store it safely."""
    actor = actor_of(request)
    key, secret = apikeys.create_api_key(
        actor.brand,
        name=data.name,
        role=data.role,
        actor=actor,
        store_id=data.store_id,
        staff_id=data.staff_id,
    )
    key.secret = secret  # type: ignore[attr-defined]
    return Status(201, key)


@router.post(
    "/api-keys/{key_id}/revoke", auth=allow("apikeys.manage"), response={200: ApiKeyOut, **KEY_ERRORS}
)
def revoke_api_key(request: HttpRequest, key_id: int):
    """Revoke a key at once; requests with it answer 401 from now on. The brand's last active
    hq_admin key cannot revoke itself (409 `last_admin_key`): make another one first."""
    actor = actor_of(request)
    key = get_or_404(ApiKey.objects.filter(brand=actor.brand), f"API key {key_id}", pk=key_id)
    return apikeys.revoke_api_key(key, actor=actor)


@router.delete("/api-keys/{key_id}", auth=allow("apikeys.manage"), response={200: ApiKeyOut, **KEY_ERRORS})
def delete_api_key(request: HttpRequest, key_id: int):
    """The same as POST /api-keys/{key_id}/revoke: the row stays (revoked) for the audit log."""
    return revoke_api_key(request, key_id)
