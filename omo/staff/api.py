"""REST endpoints for stores, stock locations and staff (read)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from omo.catalog.models import Location
from omo.core.api import ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.staff.models import Store, User
from omo.staff.roles import Scope

router = Router(tags=["stores and staff"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


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


@router.get("/stores", auth=allow("catalog.read"), response={200: StorePage, **ERRORS})
def list_stores(request: HttpRequest, paging: Query[PageParams]):
    return page(Store.objects.filter(brand=actor_of(request).brand).order_by("code"), paging)


@router.get("/stores/{store_id}", auth=allow("catalog.read"), response={200: StoreOut, **ERRORS})
def get_store(request: HttpRequest, store_id: int):
    return get_or_404(Store.objects.filter(brand=actor_of(request).brand), f"store {store_id}", pk=store_id)


@router.get("/locations", auth=allow("catalog.read"), response={200: LocationPage, **ERRORS})
def list_locations(request: HttpRequest, paging: Query[PageParams]):
    """Where stock sits: stores and warehouses."""
    return page(Location.objects.filter(brand=actor_of(request).brand).order_by("kind", "code"), paging)


@router.get("/locations/{location_id}", auth=allow("catalog.read"), response={200: LocationOut, **ERRORS})
def get_location(request: HttpRequest, location_id: int):
    return get_or_404(
        Location.objects.filter(brand=actor_of(request).brand), f"location {location_id}", pk=location_id
    )


@router.get("/staff", auth=allow("staff.read"), response={200: StaffPage, **ERRORS})
def list_staff(request: HttpRequest, filters: Query[StaffFilters], paging: Query[PageParams]):
    """Staff of the brand; a store manager sees their own store's team."""
    actor = actor_of(request)
    staff = User.objects.filter(brand=actor.brand)
    if actor.scope == Scope.STORE:
        staff = staff.filter(store_id=actor.store_id) if actor.store_id else staff.none()
    if filters.store_id is not None:
        staff = staff.filter(store_id=filters.store_id)
    if filters.role:
        staff = staff.filter(role=filters.role)
    return page(staff.order_by("store_id", "username"), paging)
