"""The one Actor: role-agnostic in core, built by staff for users and keys, permissions from staff's table."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from omo.core import access, apikeys
from omo.core.api import BearerKey, allow
from omo.core.audit import Actor
from omo.core.models import ApiKey
from omo.staff import roles
from omo.staff.actors import actor_for_api_key, actor_for_request, actor_for_user, as_actor
from omo.testing import factories as f


def test_every_role_holds_exactly_what_the_staff_table_says():
    for role in roles.Role.values:
        for permission in roles.PERMISSIONS:
            assert access.role_allows(role, permission) == roles.role_allows(role, permission), (
                role,
                permission,
            )
        assert access.rule(role).scope == roles.ROLE_SCOPE[role]


def test_an_actor_without_a_role_acts_as_the_system_with_every_permission(brand):
    actor = Actor.system(brand)
    assert (actor.role, actor.scope, actor.label, actor.brand_wide) == ("hq_admin", "brand", "system", True)
    assert all(actor.can(permission) for permission in roles.PERMISSIONS)


@pytest.mark.parametrize(
    ("role", "may", "may_not"),
    [
        ("hq_agent", "customers.write", "catalog.write"),
        ("store_manager", "orders.refund", "customers.merge"),
        ("clerk", "orders.read", "customers.write"),
    ],
)
def test_an_actor_can_what_its_role_holds(brand, role, may, may_not):
    actor = Actor(brand=brand, role=role)
    assert actor.can(may) is True
    assert actor.can(may_not) is False


def test_a_typo_in_a_permission_name_fails_loudly_everywhere(brand):
    with pytest.raises(KeyError, match="unknown permission 'orders.raed'"):
        Actor.system(brand).can("orders.raed")
    with pytest.raises(KeyError, match="unknown permission"):
        allow("orders.raed")  # at import time of the endpoint module
    with pytest.raises(KeyError, match="unknown permission"):
        BearerKey("catalog.writ")


def test_an_actor_of_a_role_nobody_knows_may_do_nothing_and_sees_nothing(brand, store, hq_admin):
    from omo.catalog.selectors import may_change_stock_at
    from omo.commerce.selectors import visible_orders
    from omo.customers.selectors import visible_customers
    from omo.inbox.selectors import visible_conversations
    from omo.staff.selectors import visible_staff, visible_stores

    f.make_customer(brand)
    actor = Actor(brand=brand, user=hq_admin, role="owner")
    assert (actor.scope, actor.brand_wide) == ("", False)
    assert not any(actor.can(permission) for permission in roles.PERMISSIONS)
    for visible in (visible_customers, visible_orders, visible_conversations, visible_staff, visible_stores):
        assert not visible(actor).exists(), visible.__name__
    assert may_change_stock_at(actor, store.location) is False


def test_a_key_of_a_role_nobody_knows_is_refused_with_403(api, brand):
    ApiKey.objects.filter(brand=brand).update(role="owner")
    response = api.get("/api/v1/customers")
    assert response.status_code == 403
    assert response.json()["detail"] == "role owner may not customers.read"


def test_staff_builds_the_actor_of_a_user_with_their_scope(brand, store, manager, clerk):
    as_manager = actor_for_user(manager)
    assert (as_manager.role, as_manager.scope, as_manager.store_id, as_manager.user_id) == (
        "store_manager",
        "store",
        store.pk,
        manager.pk,
    )
    assert as_actor(clerk).scope == "own" and as_actor(as_manager) is as_manager


def test_staff_builds_the_actor_of_a_key_acting_as_its_clerk(brand, store, clerk):
    secret = f.make_api_key(brand, role="clerk", staff=clerk)
    key = apikeys.authenticate(secret)
    actor = actor_for_api_key(key)
    assert (actor.role, actor.scope, actor.store_id, actor.user_id, actor.user) == (
        "clerk",
        "own",
        store.pk,
        clerk.pk,
        None,
    )
    assert actor.label == f"api_key:{key.prefix}"


def test_a_clerk_key_stops_working_when_the_clerk_is_deactivated_or_leaves(brand, other_brand, clerk):
    secret = f.make_api_key(brand, role="clerk", staff=clerk)
    assert apikeys.authenticate(secret) is not None
    clerk.is_active = False
    clerk.save(update_fields=["is_active"])
    assert apikeys.authenticate(secret) is None
    clerk.is_active, clerk.brand = True, other_brand
    clerk.save(update_fields=["is_active", "brand"])
    assert apikeys.authenticate(secret) is None


def test_a_key_whose_clerk_was_deleted_sees_nothing(brand, clerk):
    secret = f.make_api_key(brand, role="clerk", staff=clerk)
    ApiKey.objects.filter(staff=clerk).update(staff=None)
    assert apikeys.authenticate(secret) is None


def test_a_request_builds_its_actor_once_with_address_and_browser(hq_admin):
    request = RequestFactory().get("/console/", HTTP_USER_AGENT="pytest", REMOTE_ADDR="10.0.0.9")
    request.user = hq_admin
    actor = actor_for_request(request)
    assert actor_for_request(request) is actor
    assert (actor.ip_address, actor.user_agent, actor.label) == (
        "10.0.0.9",
        "pytest",
        f"user:{hq_admin.username}",
    )


def test_a_new_brand_starts_with_a_key_of_the_owner_role(db):
    from omo.core.brands import create_brand

    created = create_brand("新品牌")
    key = apikeys.authenticate(created.api_key)
    assert key.role == access.policy().brand_owner_role == "hq_admin"
