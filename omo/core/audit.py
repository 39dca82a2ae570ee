"""The audit log of sensitive actions: who, what, when, from where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest

from omo.core import access
from omo.core.models import ApiKey, AuditLog, Brand


@dataclass(frozen=True)
class Actor:
    """Whoever acts: a signed-in staff user, an API key, or the system (tasks, commands).

    One type for the API, the console, the clerk app, sockets and exports. It knows no roles: its
    role's scope and permissions are resolved from the policy omo.staff registers
    (omo.core.access), and staff builds actors for users and keys (omo.staff.actors). Without a
    role it acts as the system does.
    """

    brand: Brand
    user: Any = None  # the signed-in staff member, if any
    api_key: ApiKey | None = None
    role: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    scope: str = field(init=False, compare=False)
    permissions: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        role = self.role or access.policy().system_role
        rule = access.rule(role)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "scope", rule.scope)
        object.__setattr__(self, "permissions", rule.permissions)

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        if self.api_key is not None:
            return f"api_key:{self.api_key.prefix}"
        return "system"

    @property
    def store_id(self) -> int | None:
        if self.user is None and self.api_key is not None:
            if self.api_key.staff_id is not None:
                # A clerk's key works where the clerk works now, as the clerk app does after a move.
                staff = self.api_key.staff
                return getattr(staff, "store_id", None)
            return self.api_key.store_id
        return getattr(self.user, "store_id", None)

    @property
    def user_id(self) -> int | None:
        """The staff member whose own customers this actor sees (a clerk's API key acts as the clerk)."""
        if self.user is None and self.api_key is not None:
            return self.api_key.staff_id
        return getattr(self.user, "pk", None)

    @property
    def brand_wide(self) -> bool:
        return self.scope == access.Scope.BRAND

    def can(self, permission: str) -> bool:
        access.check_permission(permission)
        return permission in self.permissions

    @classmethod
    def system(cls, brand: Brand) -> Actor:
        return cls(brand=brand)

    @classmethod
    def from_request(
        cls,
        request: HttpRequest,
        *,
        brand: Brand,
        user: AbstractUser | None = None,
        api_key: ApiKey | None = None,
        role: str,
    ) -> Actor:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR") or None
        return cls(
            brand=brand,
            user=user,
            api_key=api_key,
            role=role,
            ip_address=ip,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )


def record(actor: Actor, action: str, target: Any = None, **detail: Any) -> AuditLog:
    target_type = target._meta.label_lower if target is not None and hasattr(target, "_meta") else ""
    target_id = str(getattr(target, "pk", "") or "") if target is not None else ""
    return AuditLog.objects.create(
        brand=actor.brand,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_api_key=actor.api_key,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
    )
