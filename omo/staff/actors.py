"""Building the one Actor (omo.core.audit.Actor) for signed-in staff and for API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from omo.core.audit import Actor
from omo.core.models import ApiKey
from omo.staff.requests import StaffRequest

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff


def actor_for_user(user: BrandStaff, request: HttpRequest | None = None) -> Actor:
    """The actor of a staff member of a brand; with the request, it carries their address and browser."""
    if request is not None:
        return Actor.from_request(request, brand=user.brand, user=user, role=user.role)
    return Actor(brand=user.brand, user=user, role=user.role)


def actor_for_api_key(key: ApiKey, request: HttpRequest | None = None) -> Actor:
    if request is not None:
        return Actor.from_request(request, brand=key.brand, api_key=key, role=key.role)
    return Actor(brand=key.brand, api_key=key, role=key.role)


def actor_for_request(request: StaffRequest) -> Actor:
    """The actor of a signed-in console or clerk-app request (its view has checked the sign-in),
    cached on the request so one page builds it once."""
    actor = getattr(request, "_omo_actor", None)
    if actor is None or actor.user is not request.user:
        actor = actor_for_user(request.user, request)
        request._omo_actor = actor  # type: ignore[attr-defined]
    return actor


def as_actor(who: Actor | BrandStaff) -> Actor:
    """Reads take an Actor; callers that hold a staff user (sockets, older call sites) pass it here."""
    return who if isinstance(who, Actor) else actor_for_user(who)
