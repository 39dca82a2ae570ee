"""REST endpoints for stores, stock locations, staff and API keys (whose roles live here)."""

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
from omo.staff import services
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
    email: str
    is_active: bool


class StaffPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[StaffOut]


class StoreIn(Schema):
    code: str = Field(..., min_length=1, max_length=30, description="unique in the brand, e.g. TPE01")
    name: str = Field(..., min_length=1, max_length=120)
    name_en: str = ""
    city: str = ""
    address: str = ""
    phone: str = ""
    opening_hours: dict[str, Any] = Field(
        default_factory=dict, description='{"mon": [["10:00", "21:30"]], …}; days left out are closed'
    )


class StorePatch(Schema):
    code: str | None = None
    name: str | None = None
    name_en: str | None = None
    city: str | None = None
    address: str | None = None
    phone: str | None = None
    opening_hours: dict[str, Any] | None = None
    is_active: bool | None = Field(None, description="false closes the store; its staff and history stay")


class StaffIn(Schema):
    username: str = Field(..., min_length=3, max_length=150, description="what they sign in with")
    role: Role
    store_id: int | None = Field(None, description="required for a store_manager or clerk")
    display_name: str = ""
    employee_code: str = Field("", description="unique in the brand; a POS sale names its clerk by it")
    email: str = ""
    phone: str = ""
    password: str | None = Field(
        None, description="the initial password; left out, one is generated and returned once"
    )


class StaffPatch(Schema):
    display_name: str | None = None
    employee_code: str | None = None
    role: Role | None = None
    store_id: int | None = None
    email: str | None = None
    phone: str | None = None
    is_active: bool | None = Field(
        None, description="false deactivates: no sign-in, clerk keys stop; bindings stay until transferred"
    )
    password: str | None = Field(None, description="a new password")


class NewStaffOut(StaffOut):
    initial_password: str | None = Field(None, description="the generated password, shown once")


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


@router.post("/stores", auth=allow("stores.write"), response={201: StoreOut, **KEY_ERRORS})
def create_store(request: HttpRequest, data: StoreIn):
    """Open a store (HQ admin)."""
    actor = actor_of(request)
    return Status(201, services.create_store(actor.brand, actor=actor, **data.dict()))


@router.patch("/stores/{store_id}", auth=allow("stores.write"), response={200: StoreOut, **KEY_ERRORS})
def update_store(request: HttpRequest, store_id: int, data: StorePatch):
    """Change the fields given; `is_active: false` closes the store."""
    actor = actor_of(request)
    store = get_or_404(store_directory(actor), f"store {store_id}", pk=store_id)
    return services.update_store(store, actor=actor, **data.dict(exclude_unset=True))


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


@router.get("/staff/{staff_id}", auth=allow("staff.read"), response={200: StaffOut, **ERRORS})
def get_staff(request: HttpRequest, staff_id: int):
    return get_or_404(visible_staff(actor_of(request)), f"staff {staff_id}", pk=staff_id)


@router.post("/staff", auth=allow("staff.write"), response={201: NewStaffOut, **KEY_ERRORS})
def create_staff(request: HttpRequest, data: StaffIn):
    """A new staff member who can sign in. An HQ admin adds anyone; a store manager only clerks of
    their own store."""
    actor = actor_of(request)
    member, generated = services.create_staff(actor.brand, actor=actor, **data.dict())
    member.initial_password = generated  # type: ignore[attr-defined]
    return Status(201, member)


@router.patch("/staff/{staff_id}", auth=allow("staff.write"), response={200: StaffOut, **KEY_ERRORS})
def update_staff(request: HttpRequest, staff_id: int, data: StaffPatch):
    """Change the fields given. `is_active: false` deactivates (history and bindings stay)."""
    actor = actor_of(request)
    member = get_or_404(visible_staff(actor), f"staff {staff_id}", pk=staff_id)
    return services.update_staff(member, actor=actor, **data.dict(exclude_unset=True))


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
