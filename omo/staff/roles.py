"""Roles, their scopes and what each may do. The one place permissions are decided.

The table is registered with omo.core.access when this module loads (omo.staff.models imports it),
so core's Actor and the API's key check read it without importing staff.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core import access
from omo.core.access import Scope


class Role(models.TextChoices):
    HQ_ADMIN = "hq_admin", _("總部管理員")
    HQ_AGENT = "hq_agent", _("客服人員")
    STORE_MANAGER = "store_manager", _("店長")
    CLERK = "clerk", _("店員")


ROLE_SCOPE: dict[str, str] = {
    Role.HQ_ADMIN: Scope.BRAND,
    Role.HQ_AGENT: Scope.BRAND,
    Role.STORE_MANAGER: Scope.STORE,
    Role.CLERK: Scope.OWN,
}

# Strongest first; used to compare roles ("at least a store manager").
ROLE_RANK: dict[str, int] = {Role.HQ_ADMIN: 40, Role.HQ_AGENT: 30, Role.STORE_MANAGER: 20, Role.CLERK: 10}

# permission -> roles holding it. Scope then narrows *which rows* a holder sees.
PERMISSIONS: dict[str, frozenset[str]] = {
    "catalog.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "catalog.write": frozenset({Role.HQ_ADMIN}),
    "stock.write": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    "customers.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "customers.write": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    "customers.merge": frozenset({Role.HQ_ADMIN}),  # merge suggestions, merges and splits
    # PDPA export and erasure of one customer's personal data, retention periods (omo/customers/privacy.py)
    "customers.privacy": frozenset({Role.HQ_ADMIN}),
    "orders.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "orders.write": frozenset({Role.HQ_ADMIN}),
    "orders.refund": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    # mark paid, fulfil, cancel (a store manager: their store's orders, by scope)
    "orders.manage": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    "loyalty.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "loyalty.adjust": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    "coupons.write": frozenset({Role.HQ_ADMIN}),
    # a store's till (a store manager's key is the POS key of its store): check and redeem coupons and
    # points for any member of the brand, reverse them for a voided sale, record the store's POS sales
    "pos.sell": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    "stores.write": frozenset({Role.HQ_ADMIN}),
    "staff.read": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    # a store manager only for the clerks of their own store (omo/staff/services.py)
    "staff.write": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    # bindings (omo/binding): read (scope narrows to the store's or the clerk's own), transfer a
    # clerk's customers (a store manager: their own store's clerks), ask a customer found by phone
    # to confirm a clerk (a clerk: for themselves; a store manager: for their store's clerks)
    "bindings.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "bindings.transfer": frozenset({Role.HQ_ADMIN, Role.STORE_MANAGER}),
    "bindings.recover": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "apikeys.manage": frozenset({Role.HQ_ADMIN}),
    "tracking.sources": frozenset({Role.HQ_ADMIN}),  # write keys for /v1/* (omo/tracking/api.py)
    "audit.read": frozenset({Role.HQ_ADMIN}),
    "imports.run": frozenset({Role.HQ_ADMIN}),
    "dashboard.view": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    "predictions.refit": frozenset({Role.HQ_ADMIN}),  # refit the CLV models now (omo/segments/clv/)
    # the brand's rules (binding, attribution, inbox SLA and hours, points and tiers): see and change
    "rules.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    "rules.write": frozenset({Role.HQ_ADMIN}),
    # every clerk's monthly commission statement and the payroll CSV (a store manager: their store's)
    "commission.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    # the LINE message plan's use and cost: replies vs pushes per clerk and store (a store manager:
    # their store's rows)
    "message_usage.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    # conversations: read and answer (messages, notes) within the role's scope (visible_conversations);
    # assign, close and reopen as the console does (a store manager within their store)
    "conversations.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "conversations.reply": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "conversations.manage": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER}),
    # the brand-wide RFM scores and lifecycle groups (顧客分群): see them, queue a recomputation
    "scores.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT}),
    "scores.refresh": frozenset({Role.HQ_ADMIN}),
    # segments (omo/segments): every role reads them (a store manager's and a clerk's members and
    # counts narrowed to the customers they see); HQ (admins and agents, brand-wide) builds them
    "segments.read": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT, Role.STORE_MANAGER, Role.CLERK}),
    "segments.write": frozenset({Role.HQ_ADMIN, Role.HQ_AGENT}),
}


def role_allows(role: str, permission: str) -> bool:
    try:
        return role in PERMISSIONS[permission]
    except KeyError as exc:  # a typo in a permission name must fail loudly, not deny silently
        raise KeyError(f"unknown permission {permission!r}") from exc


def _key_scope(brand, role: str, store_id: int | None, staff_id: int | None) -> tuple[int | None, int | None]:
    from omo.staff.apikeys import key_scope

    return key_scope(brand, role, store_id, staff_id)


def _key_managers(brand) -> int:
    from omo.staff.models import User  # function-level: roles loads before the models that import it

    holders = PERMISSIONS["apikeys.manage"]
    # An unusable password ("!…": invited, never set) cannot sign in yet.
    people = User.objects.filter(brand=brand, is_active=True, role__in=holders)
    return people.exclude(password__startswith="!").exclude(password="").count()


access.register(
    access.AccessPolicy(
        roles={
            role: access.RoleRule(
                scope=ROLE_SCOPE[role],
                permissions=frozenset(name for name, holders in PERMISSIONS.items() if role in holders),
            )
            for role in Role.values
        },
        permissions=frozenset(PERMISSIONS),
        system_role=Role.HQ_ADMIN,
        brand_owner_role=Role.HQ_ADMIN,
        key_scope=_key_scope,
        key_managers=_key_managers,
    )
)
