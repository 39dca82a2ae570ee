"""Which store or clerk an API key of each role works for (registered in omo.core.access)."""

from __future__ import annotations

from omo.core.apikeys import ApiKeyError
from omo.core.models import Brand
from omo.staff.models import Store, User
from omo.staff.roles import Role


def key_scope(
    brand: Brand, role: str, store_id: int | None, staff_id: int | None
) -> tuple[int | None, int | None]:
    """(store id, staff id) for a key of `role`: brand-wide roles take neither, a store manager's key
    one store of the brand, a clerk's key one active clerk of the brand (and that clerk's store)."""
    if role in (Role.HQ_ADMIN, Role.HQ_AGENT):
        if store_id is not None or staff_id is not None:
            raise ApiKeyError(
                "store_id" if store_id is not None else "staff_id",
                f"a {role} key is brand-wide; leave store and staff empty",
            )
        return None, None
    if role == Role.STORE_MANAGER:
        if staff_id is not None:
            raise ApiKeyError("staff_id", "a store_manager key is for a store; leave staff empty")
        if store_id is None:
            raise ApiKeyError("store_id", "a store_manager key needs the store it works for")
        if not Store.objects.filter(brand=brand, pk=store_id).exists():
            raise ApiKeyError("store_id", f"store {store_id} is not a store of this brand")
        return store_id, None
    if staff_id is None:
        raise ApiKeyError("staff_id", "a clerk key needs the clerk it acts for")
    clerk = User.objects.filter(brand=brand, pk=staff_id, role=Role.CLERK, is_active=True).first()
    if clerk is None:
        raise ApiKeyError("staff_id", f"staff {staff_id} is not an active clerk of this brand")
    if store_id is not None and store_id != clerk.store_id:
        raise ApiKeyError("store_id", "a clerk key works for the clerk's own store; leave store empty")
    return clerk.store_id, clerk.pk
