"""A store's till key reverses only its own store's till sales (coupons and points), and every till
redemption keeps its store, the till's key and the staff member at the till."""

from __future__ import annotations

import pytest
import time_machine

from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.loyalty.tests.test_till_api import NOW, _points, _redeem
from omo.testing import factories as f


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def member(brand, hq_admin):
    customer = f.make_customer(brand, name="林小美", phone="0912000111")
    loyalty.adjust_points(customer, 500, reason="開卡禮", actor=Actor(brand=brand, user=hq_admin))
    return customer


@pytest.fixture
def shared(brand, hq_admin):
    actor = Actor(brand=brand, user=hq_admin)
    coupon = loyalty.create_coupon(brand, actor=actor, name="滿千打九折", kind="percent_off", value=10)
    return loyalty.add_shared_code(coupon, code="SALE10", max_uses=None, actor=actor)


@pytest.fixture
def till(brand, store):
    return f.ApiClient(f.make_api_key(brand, role="store_manager", store=store, name="信義店 POS"))


@pytest.fixture
def other_till(brand, other_store):
    return f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))


def _reverse_points(client, customer, sale):
    return client.post(f"/api/v1/customers/{customer.pk}/points/reverse", {"transaction_id": sale})


def test_another_stores_till_cannot_give_back_this_stores_points(till, other_till, member):
    assert _points(till, member, 200, "S-1").status_code == 201

    refused = _reverse_points(other_till, member, "S-1")

    assert refused.status_code == 404 and refused.json()["field"] == "transaction_id"
    assert LoyaltyAccount.objects.get(customer=member).balance == 300
    assert not PointsEntry.objects.filter(kind="restore").exists()
    assert _reverse_points(till, member, "S-1").status_code == 201
    assert LoyaltyAccount.objects.get(customer=member).balance == 500


def test_a_sale_redeemed_by_an_hq_key_without_a_store_is_not_a_stores_to_reverse(api, till, shared, member):
    assert _redeem(api, "SALE10", "S-1").status_code == 201
    assert _points(api, member, 100, "S-1").status_code == 201

    assert till.post("/api/v1/coupons/reverse", {"transaction_id": "S-1"}).status_code == 404
    assert _reverse_points(till, member, "S-1").status_code == 404
    assert CouponCode.objects.get(pk=shared.pk).times_used == 1

    assert api.post("/api/v1/coupons/reverse", {"transaction_id": "S-1"}).status_code == 200
    assert _reverse_points(api, member, "S-1").status_code == 201
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0


def test_an_hq_key_reverses_any_stores_sale(api, till, shared, member):
    _redeem(till, "SALE10", "S-1")
    _points(till, member, 100, "S-1")

    assert api.post("/api/v1/coupons/reverse", {"transaction_id": "S-1"}).json()["status"] == "reversed"
    assert _reverse_points(api, member, "S-1").status_code == 201


def test_the_till_its_store_and_the_staff_member_are_kept(brand, store, clerk, till, shared, member):
    _redeem(till, "SALE10", "S-1", staff_code="E001")
    _points(till, member, 100, "S-1", staff_code="E001")
    _reverse_points(till, member, "S-1")

    redemption = CouponRedemption.objects.get(transaction_id="S-1")
    assert (redemption.store_id, redemption.api_key.name, redemption.staff_id) == (
        store.pk,
        "信義店 POS",
        clerk.pk,
    )
    spent = PointsEntry.objects.get(kind="redeem")
    assert (spent.store_id, spent.api_key.name, spent.actor_id) == (store.pk, "信義店 POS", clerk.pk)
    given_back = PointsEntry.objects.get(kind="restore")
    assert (given_back.store_id, given_back.api_key.name) == (store.pk, "信義店 POS")


def test_an_unknown_staff_code_is_refused_by_name(till, shared, member):
    coupon = _redeem(till, "SALE10", "S-1", staff_code="E999")
    points = _points(till, member, 100, "S-2", staff_code="E999")

    for response in (coupon, points):
        assert response.status_code == 422
        assert response.json()["field"] == "staff_code"
        assert "E999" in response.json()["detail"]
    assert not CouponRedemption.objects.exists()
    assert LoyaltyAccount.objects.get(customer=member).balance == 500
