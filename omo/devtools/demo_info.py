"""The demo brand's logins, for `omo demo` to print and the login page to show."""

from __future__ import annotations

from omo.devtools.demo_facts import DEMO_PASSWORD, DEMO_SLUG
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
