"""Who sees which stores, staff, orders, products and stock: one rule per thing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from omo.catalog.selectors import may_change_stock_at, visible_products, visible_stock_levels
from omo.commerce.models import Order
from omo.commerce.selectors import visible_orders
from omo.core.audit import Actor
from omo.staff.actors import actor_for_user
from omo.staff.selectors import store_directory, visible_staff, visible_stores
from omo.testing import factories as f


def test_stores_hq_sees_all_a_store_manager_its_own_and_the_directory_is_brand_wide(
    brand, other_brand, store, other_store, hq_admin, manager
):
    f.make_store(other_brand, code="X1")
    assert set(visible_stores(actor_for_user(hq_admin))) == {store, other_store}
    assert list(visible_stores(actor_for_user(manager))) == [store]
    assert set(store_directory(actor_for_user(manager))) == {store, other_store}
    assert not visible_stores(Actor(brand=brand, role="store_manager")).exists()


def test_staff_hq_sees_all_a_manager_the_team_a_clerk_only_themselves(
    brand, other_brand, store, other_store, hq_admin, manager, clerk
):
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    f.make_user(other_brand, "theirs", role="hq_admin")
    assert set(visible_staff(actor_for_user(hq_admin))) == {hq_admin, manager, clerk, far}
    assert set(visible_staff(actor_for_user(manager))) == {manager, clerk}
    assert list(visible_staff(actor_for_user(clerk))) == [clerk]


@pytest.fixture
def orders(brand, other_brand, store, other_store, clerk):
    def order(owner_brand, at_store, staff, ref):
        return Order.objects.create(
            brand=owner_brand,
            source="pos",
            external_id=ref,
            sales_channel="pos",
            store=at_store,
            staff=staff,
            placed_at=timezone.now(),
        )

    return {
        "clerks": order(brand, store, clerk, "A"),
        "store": order(brand, store, None, "B"),
        "elsewhere": order(brand, other_store, None, "C"),
        "theirs": order(other_brand, f.make_store(other_brand, code="X1"), None, "D"),
    }


def test_orders_by_scope(brand, hq_admin, manager, clerk, orders):
    refs = lambda actor: set(visible_orders(actor).values_list("external_id", flat=True))  # noqa: E731
    assert refs(actor_for_user(hq_admin)) == {"A", "B", "C"}
    assert refs(actor_for_user(manager)) == {"A", "B"}
    assert refs(actor_for_user(clerk)) == {"A"}
    assert refs(Actor(brand=brand, role="clerk")) == set()  # a clerk key whose clerk is gone
    assert refs(Actor(brand=brand, role="store_manager")) == set()


def test_products_and_stock_are_read_brand_wide_and_changed_only_at_the_own_store(
    brand, other_brand, store, other_store, warehouse, hq_admin, manager, clerk
):
    product = f.make_product(brand, variants=[("P-1", "M", 100)])
    f.set_stock(product.variants.get(), warehouse, 3)
    f.make_product(other_brand, variants=[("Q-1", "M", 100)])
    for user in (hq_admin, manager, clerk):
        assert list(visible_products(actor_for_user(user))) == [product]
        assert visible_stock_levels(actor_for_user(user)).count() == 1
    own, far = store.location, other_store.location
    assert may_change_stock_at(actor_for_user(hq_admin), far) is True
    assert may_change_stock_at(actor_for_user(manager), own) is True
    assert may_change_stock_at(actor_for_user(manager), far) is False
    assert may_change_stock_at(actor_for_user(manager), warehouse) is False
    theirs = f.make_store(other_brand, code="X2").location
    assert may_change_stock_at(actor_for_user(hq_admin), theirs) is False
