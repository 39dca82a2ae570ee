"""What an actor may do and which rows it sees, as data that core reads but does not decide.

Core is the lowest layer and knows no roles: omo.staff owns them and registers an `AccessPolicy`
when its models load (every role's scope and permissions, the role the system acts with, the role
of a brand's first key, and the rule for which store or clerk a key of a role works for). The
Actor, the API's bearer-key check and the audit log read the policy from here, so an app below
staff (catalog) checks permissions without importing staff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """Which rows of the brand a role sees; every app's `visible_<things>(actor)` narrows by it."""

    BRAND = "brand", _("全品牌")
    STORE = "store", _("單一門市")
    OWN = "own", _("自己的顧客")


@dataclass(frozen=True)
class RoleRule:
    scope: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class AccessPolicy:
    roles: Mapping[str, RoleRule]
    permissions: frozenset[str]  # every permission name, held or not
    system_role: str  # tasks and commands act with this role
    brand_owner_role: str  # the role of the API key a new brand starts with
    # (brand, role, store id, staff id) -> (store id, staff id) a key of that role works for;
    # raises apikeys.ApiKeyError naming the field when they do not fit together.
    key_scope: Callable[..., tuple[int | None, int | None]]
    # brand -> how many active people of the brand can sign in and manage API keys (the last
    # admin key of a brand is kept while nobody could make a new one; see apikeys.revoke_api_key).
    key_managers: Callable[..., int] | None = None


_policy: AccessPolicy | None = None


def register(policy: AccessPolicy) -> None:
    global _policy
    _policy = policy


def policy() -> AccessPolicy:
    if _policy is None:  # omo.staff registers it when its models load; without it nobody may act
        raise RuntimeError("no access policy registered: is omo.staff in INSTALLED_APPS?")
    return _policy


def check_permission(permission: str) -> None:
    """A typo in a permission name must fail loudly, not deny silently."""
    if permission not in policy().permissions:
        raise KeyError(f"unknown permission {permission!r}")


# A role the policy does not know (a stale row, a typo) may do nothing and sees nothing.
NO_ACCESS = RoleRule(scope="", permissions=frozenset())


def rule(role: str) -> RoleRule:
    return policy().roles.get(role, NO_ACCESS)


def role_allows(role: str, permission: str) -> bool:
    check_permission(permission)
    return permission in rule(role).permissions
