"""Who may open which console page, and the brand time zone while they do.

Every console view is wrapped by `console_view`, which answers in this order:

1. anonymous → redirect to the console sign-in page;
2. no brand, inactive, or a role without console access (clerks get their own app) → 403;
3. a store-scoped user without a store → 403 (their scope would be undefined);
4. the page's requirement (a permission from omo.staff.roles, optionally brand-wide scope) → 403;
5. otherwise the view runs with the brand's time zone active, so dates render in local time.

Tenancy is not decided here: views fetch objects through each app's `visible_<things>(actor)`
(directly or through omo.console.selectors), which always filter by the actor's brand and scope, so
another brand's id is a 404. tests/test_access_sweep.py tries every console URL that way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import pgettext

from omo.core.audit import Actor
from omo.staff.actors import actor_for_request
from omo.staff.models import User
from omo.staff.requests import StaffRequest
from omo.staff.roles import Role, Scope

# The console is for HQ and store managers. Clerks hold read permissions for their own app
# (/clerk/), which is why access is a separate rule and not implied by any single permission.
CONSOLE_ROLES: frozenset[str] = frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER})


class ConsoleRequest(StaffRequest):
    """What a view wrapped by `console_view` receives: its user is a signed-in staff member of a brand."""


@dataclass(frozen=True)
class Requirement:
    """What a page needs beyond console access."""

    permission: str | None = None
    brand_wide: bool = False  # settings pages: only roles whose scope is the whole brand

    def allows(self, user: User) -> bool:
        if self.permission is not None and not user.can(self.permission):
            return False
        return not (self.brand_wide and user.scope != Scope.BRAND)


def console_denial(user: User) -> str | None:
    """Why a signed-in user may not use the console at all, or None when they may."""
    if not user.is_active or user.brand_id is None:
        return pgettext("console", "此帳號不屬於任何品牌，無法使用管理後台。")
    if user.role not in CONSOLE_ROLES:
        return pgettext("console", "管理後台僅開放總部與店長使用；店員請使用店員 App。")
    if user.scope == Scope.STORE and user.store_id is None:
        return pgettext("console", "您的帳號尚未指定門市，請聯絡總部管理員。")
    return None


def may_open(user: User | AnonymousUser, requirement: Requirement) -> bool:
    """True when a signed-in user may open a page with this requirement (used by the navigation)."""
    return user.is_authenticated and console_denial(user) is None and requirement.allows(user)


def forbidden(request: HttpRequest, reason: str, *, show_home: bool = False) -> HttpResponse:
    return render(request, "console/403.html", {"reason": reason, "show_home": show_home}, status=403)


def console_view(permission: str | None = None, *, brand_wide: bool = False) -> Callable:
    """Decorate a console view with the checks above."""
    requirement = Requirement(permission=permission, brand_wide=brand_wide)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("console:login"))
            reason = console_denial(user)
            if reason is not None:
                return forbidden(request, reason)
            if not requirement.allows(user):
                return forbidden(
                    request, pgettext("console", "您的角色沒有開啟此頁面的權限。"), show_home=True
                )
            brand = user.brand
            assert brand is not None  # console_denial turned brand-less accounts away
            # Views render eagerly (render(), not TemplateResponse), so the override covers them.
            with timezone.override(ZoneInfo(brand.time_zone)):
                return view(request, *args, **kwargs)

        wrapper.requirement = requirement  # type: ignore[attr-defined]  # read by tests and the navigation
        return wrapper

    return decorator


def actor_for(request: ConsoleRequest) -> Actor:
    """The actor of the signed-in console user (with their address and browser): the one every
    app's `visible_<things>` and every service takes."""
    return actor_for_request(request)
