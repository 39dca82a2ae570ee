"""The audit log of sensitive actions: who, what, when, from where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omo.core.models import ApiKey, AuditLog, Brand


@dataclass(frozen=True)
class Actor:
    """Whoever acts: a signed-in staff user, an API key, or the system (tasks, commands)."""

    brand: Brand
    user: Any = None  # staff.User
    api_key: ApiKey | None = None
    role: str = "hq_admin"
    ip_address: str | None = None
    user_agent: str = ""

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
            return self.api_key.store_id
        return getattr(self.user, "store_id", None)

    @property
    def user_id(self) -> int | None:
        """The staff member whose own customers this actor sees (a clerk's API key acts as the clerk)."""
        if self.user is None and self.api_key is not None:
            return self.api_key.staff_id
        return getattr(self.user, "pk", None)

    @property
    def scope(self) -> str:
        from omo.staff.roles import ROLE_SCOPE

        return ROLE_SCOPE[self.role]

    def can(self, permission: str) -> bool:
        from omo.staff.roles import role_allows

        return role_allows(self.role, permission)

    @classmethod
    def system(cls, brand: Brand) -> Actor:
        return cls(brand=brand)

    @classmethod
    def from_request(
        cls, request, *, brand: Brand, user=None, api_key: ApiKey | None = None, role: str
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
