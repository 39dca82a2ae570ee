"""The demo brand's logins and the customer to play in the phone simulator, for `omo demo` to print
and the front page (`/`) to show while the devtools are on."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from omo.core import frontdoor
from omo.core.models import Brand
from omo.devtools.demo_facts import DEMO_PASSWORD, DEMO_SLUG
from omo.devtools.seed_story import story_customer
from omo.staff.models import User

# (role label, user name, where that role works)
_LOGINS = (
    ("總部管理員 HQ admin", "admin", "/console/"),
    ("店長 Store manager", "manager", "/console/"),
    ("店員 Clerk", "clerk", "/clerk/"),
)


def demo_logins() -> list[dict[str, str]]:
    """[{"role", "username", "password", "url"}] for the seeded demo brand; [] when there is none."""
    present = set(
        User.objects.filter(
            brand__slug=DEMO_SLUG, username__in=[u for _, u, _ in _LOGINS], is_active=True
        ).values_list("username", flat=True)
    )
    return [
        {"role": role, "username": username, "password": DEMO_PASSWORD, "url": url}
        for role, username, url in _LOGINS
        if username in present
    ]


def admin_login() -> dict[str, str] | None:
    """The demo login that may also open the Django admin (/admin/)."""
    admin = User.objects.filter(
        brand__slug=DEMO_SLUG, username="admin", is_active=True, is_staff=True
    ).first()
    if admin is None:
        return None
    return {"username": admin.username, "password": DEMO_PASSWORD, "url": "/admin/"}


def demo_story() -> dict[str, str] | None:
    """The simulator's customer: {"customer", "clerk", "clerk_username", "line_user_id"}, or None."""
    brand = Brand.objects.filter(slug=DEMO_SLUG).first()
    return story_customer(brand) if brand is not None else None


def front_door() -> dict[str, Any] | None:
    """What the front page shows about the demo, only while the devtools are on."""
    if not (settings.DEBUG or getattr(settings, "OMO_DEVTOOLS", False)):
        return None
    logins = demo_logins()
    if not logins:
        return None
    return {"logins": logins, "admin": admin_login(), "story": demo_story()}


def register() -> None:
    frontdoor.register("demo", front_door)
