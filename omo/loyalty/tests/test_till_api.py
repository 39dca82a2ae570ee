"""Coupons and points at a store's till over the REST API: check, redeem (idempotent), reverse for a
voided sale; named refusals; a till key works for its own store; other brands and weaker roles are
refused; the sale posted as an order later gives both back when it is cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.testing import factories as f

NOW = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin_actor(brand, hq_admin):
    return Actor(brand=brand, user=hq_admin)


@pytest.fixture
def member(brand):
    return f.make_customer(brand, name="林小美", phone="0912000111")


@pytest.fixture
def single_use(brand, admin_actor, member):
    coupon = loyalty.create_coupon(
        brand, actor=admin_actor, name="生日禮 折 200", kind="amount_off", value=20000
    )
    [code] = loyalty.issue_codes(coupon, [member], actor=admin_actor, prefix="BD")
    return code


@pytest.fixture
def shared(brand, admin_actor):
    coupon = loyalty.create_coupon(
        brand, actor=admin_actor, name="滿千打九折", kind="percent_off", value=10, min_spend=100000
    )
    return loyalty.add_shared_code(coupon, code="SALE10", max_uses=None, actor=admin_actor)


@pytest.fixture
def till(brand, store):
    """The POS of 台北信義店: a store manager key of that store."""
    return f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))


def _redeem(client, code, sale, **extra):
    return client.post(
        "/api/v1/coupons/redeem",
        {"code": code, "transaction_id": sale, "basket_total": 150000, **extra},
    )


# --- validate ---------------------------------------------------------------------------------


def test_validate_says_what_the_code_takes_off_and_uses_nothing(till, shared):
    response = till.post(
        "/api/v1/coupons/validate",
        {"code": "sale10", "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 60000}]},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["valid"], body["code"], body["discount"], body["kind"]) == (
        True,
        "SALE10",
        12000,
        "percent_off",
    )
    assert body["reason"] == "" and body["currency"] == "TWD"
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0
    assert not CouponRedemption.objects.exists()


def test_validate_finds_the_member_by_phone_for_a_personal_code(till, single_use, member):
    response = till.post(
        "/api/v1/coupons/validate", {"code": single_use.code, "phone": "0912-000-111", "basket_total": 50000}
    )

    body = response.json()
    assert (body["valid"], body["discount"], body["customer_id"]) == (True, 20000, member.pk)


def test_validate_gives_the_reason_as_a_sentence_with_a_named_code(
    till, brand, other_brand, other_admin, admin_actor, shared, single_use
):
    expired = loyalty.create_coupon(
        brand,
        actor=admin_actor,
        name="雙十一",
        kind="amount_off",
        value=100,
        starts_at=NOW - dt.timedelta(days=20),
        ends_at=NOW - dt.timedelta(days=1),
    )
    loyalty.add_shared_code(expired, code="DOUBLE11", max_uses=None, actor=admin_actor)
    used = loyalty.add_shared_code(shared.coupon, code="ONCE", max_uses=1, actor=admin_actor)
    CouponCode.objects.filter(pk=used.pk).update(times_used=1)
    theirs = loyalty.create_coupon(
        other_brand, actor=Actor(brand=other_brand, user=other_admin), name="x", kind="amount_off", value=100
    )
    loyalty.add_shared_code(
        theirs, code="THEIRS", max_uses=None, actor=Actor(brand=other_brand, user=other_admin)
    )
    cases = {
        "NOPE": ("coupon_unknown", "不存在"),
        "DOUBLE11": ("coupon_expired", "已過期"),
        "ONCE": ("coupon_used", "已被使用完畢"),
        "THEIRS": ("coupon_other_brand", "不是本品牌的優惠碼"),
        single_use.code: ("coupon_other_customer", "限本人使用"),
    }
    for code, (error_code, words) in cases.items():
        body = till.post("/api/v1/coupons/validate", {"code": code, "basket_total": 150000}).json()
        assert (body["valid"], body["error_code"]) == (False, error_code), body
        assert words in body["reason"]
    short = till.post("/api/v1/coupons/validate", {"code": "SALE10", "basket_total": 5000}).json()
    assert (short["valid"], short["error_code"]) == (False, "coupon_min_spend")
    assert "最低消費" in short["reason"]


def test_validate_needs_a_basket(till, shared):
    response = till.post("/api/v1/coupons/validate", {"code": "SALE10"})
    assert response.status_code == 422


# --- redeem and reverse -----------------------------------------------------------------------


def test_redeem_is_idempotent_on_the_sale_id(till, single_use, member, store):
    first = till.client.post(
        "/api/v1/coupons/redeem",
        {"code": single_use.code, "customer_id": member.pk, "basket_total": 80000},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {till.key}",
        HTTP_IDEMPOTENCY_KEY="TPE01-20261120-0001",
    )
    again = _redeem(till, single_use.code, "TPE01-20261120-0001", customer_id=member.pk)

    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    body = first.json()
    assert (body["discount"], body["status"], body["store_code"], body["transaction_id"]) == (
        20000,
        "redeemed",
        "TPE01",
        "TPE01-20261120-0001",
    )
    assert again.json()["id"] == body["id"]
    assert CouponCode.objects.get(pk=single_use.pk).times_used == 1
    assert CouponRedemption.objects.count() == 1
    assert AuditLog.objects.filter(action="coupon.redeemed_at_till").count() == 1


def test_a_used_single_use_code_is_refused_at_the_till_and_on_the_web(till, single_use, member, brand):
    assert _redeem(till, single_use.code, "S-1", customer_id=member.pk).status_code == 201

    other_sale = _redeem(till, single_use.code, "S-2", customer_id=member.pk)

    assert other_sale.status_code == 409
    assert (other_sale.json()["code"], other_sale.json()["field"]) == ("coupon_used", "coupon_code")
    with pytest.raises(loyalty.CouponError) as web:
        loyalty.quote_coupon(brand, single_use.code, subtotal=80000, shipping=0, customer=member)
    assert web.value.code == "coupon_used"


def test_one_coupon_per_sale(till, shared, admin_actor):
    other = loyalty.add_shared_code(shared.coupon, code="SALE10B", max_uses=None, actor=admin_actor)
    assert _redeem(till, "SALE10", "S-1").status_code == 201

    second = _redeem(till, other.code, "S-1")

    assert second.status_code == 409 and second.json()["code"] == "coupon_already_on_sale"
    assert CouponCode.objects.get(pk=other.pk).times_used == 0


def test_reversal_of_a_voided_sale_gives_the_use_back_once(till, single_use, member):
    _redeem(till, single_use.code, "S-9", customer_id=member.pk)

    voided = till.post("/api/v1/coupons/reverse", {"transaction_id": "S-9", "reason": "客人改買別款"})
    repeat = till.post("/api/v1/coupons/reverse", {"transaction_id": "S-9"})

    assert voided.status_code == 200, voided.content
    assert voided.json()["status"] == "reversed"
    assert repeat.status_code == 200 and repeat.json()["reversed_at"] == voided.json()["reversed_at"]
    assert CouponCode.objects.get(pk=single_use.pk).times_used == 0
    assert AuditLog.objects.filter(action="coupon.reversed_at_till").count() == 1
    # usable again, on a new sale; the voided sale's id stays voided
    assert _redeem(till, single_use.code, "S-10", customer_id=member.pk).status_code == 201
    reused = _redeem(till, single_use.code, "S-9", customer_id=member.pk)
    assert reused.status_code == 409 and reused.json()["code"] == "sale_voided"


def test_reversing_a_sale_without_a_coupon_is_404(till):
    response = till.post("/api/v1/coupons/reverse", {"transaction_id": "NOPE"})
    assert response.status_code == 404 and response.json()["field"] == "transaction_id"


def test_redeem_needs_a_sale_id(till, shared):
    response = till.post("/api/v1/coupons/redeem", {"code": "SALE10", "basket_total": 150000})
    assert response.status_code == 422 and response.json()["field"] == "transaction_id"
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0


# --- points -----------------------------------------------------------------------------------


def _points(client, customer, points, sale, **extra):
    return client.post(
        f"/api/v1/customers/{customer.pk}/points/redeem",
        {"points": points, "transaction_id": sale, **extra},
    )


def test_points_redeemed_at_the_till_once_per_sale_and_given_back_once(till, member, admin_actor):
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=admin_actor)

    spent = _points(till, member, 200, "S-1", basket_total=100000)
    again = _points(till, member, 200, "S-1", basket_total=100000)

    assert spent.status_code == 201, spent.content
    assert spent.json() == {
        "entry_id": spent.json()["entry_id"],
        "customer_id": member.pk,
        "transaction_id": "S-1",
        "points": 200,
        "discount": 20000,
        "currency": "TWD",
        "balance": 300,
    }
    assert again.status_code == 200 and again.json()["balance"] == 300
    assert PointsEntry.objects.filter(kind="redeem").count() == 1

    back = till.post(f"/api/v1/customers/{member.pk}/points/reverse", {"transaction_id": "S-1"})
    back_again = till.post(f"/api/v1/customers/{member.pk}/points/reverse", {"transaction_id": "S-1"})

    assert back.status_code == 201 and back.json()["balance"] == 500
    assert back_again.status_code == 200 and back_again.json()["balance"] == 500
    assert LoyaltyAccount.objects.get(customer=member).balance == 500
    assert PointsEntry.objects.filter(kind="restore").count() == 1
    assert AuditLog.objects.filter(action="points.redeemed_at_till").count() == 1
    assert AuditLog.objects.filter(action="points.reversed_at_till").count() == 1


def test_insufficient_points_is_a_named_409_and_changes_nothing(till, member, admin_actor):
    loyalty.adjust_points(member, 50, reason="開卡禮", actor=admin_actor)

    response = _points(till, member, 80, "S-1")

    assert response.status_code == 409
    assert (response.json()["code"], response.json()["field"]) == ("insufficient_points", "points")
    assert "點數不足" in response.json()["detail"]
    assert LoyaltyAccount.objects.get(customer=member).balance == 50
    assert not PointsEntry.objects.filter(kind="redeem").exists()


def test_points_beyond_the_programs_share_of_the_basket_are_refused(till, member, admin_actor):
    loyalty.adjust_points(member, 5000, reason="開卡禮", actor=admin_actor)

    # default: at most 50% of the basket, 1 point = NT$1 → NT$1,000 basket takes 500 points
    response = _points(till, member, 600, "S-1", basket_total=100000)

    assert response.status_code == 422
    assert (response.json()["code"], response.json()["limit"]) == ("points_over_limit", 500)


def test_same_sale_id_with_other_points_is_a_conflict(till, member, admin_actor):
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=admin_actor)
    _points(till, member, 100, "S-1")

    response = _points(till, member, 300, "S-1")

    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"
    assert LoyaltyAccount.objects.get(customer=member).balance == 400


# --- scope ------------------------------------------------------------------------------------


def test_a_till_key_works_for_its_own_store_only(till, shared, other_store, member, admin_actor):
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=admin_actor)

    coupon = _redeem(till, "SALE10", "S-1", store_code=other_store.code)
    points = _points(till, member, 100, "S-1", store_code=other_store.code)

    assert coupon.status_code == 403 and coupon.json()["code"] == "store_mismatch"
    assert points.status_code == 403 and points.json()["field"] == "store_code"
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0
    assert LoyaltyAccount.objects.get(customer=member).balance == 500


def test_another_stores_till_cannot_reverse_this_stores_sale(brand, till, shared, other_store):
    _redeem(till, "SALE10", "S-1")
    theirs = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))

    response = theirs.post("/api/v1/coupons/reverse", {"transaction_id": "S-1"})

    assert response.status_code == 404
    assert CouponCode.objects.get(pk=shared.pk).times_used == 1


def test_hq_key_names_the_store(api, shared, store):
    response = _redeem(api, "SALE10", "S-1", store_code="NOPE")
    assert response.status_code == 422 and response.json()["field"] == "store_code"
    assert _redeem(api, "SALE10", "S-1", store_code=store.code).json()["store_code"] == "TPE01"


def test_weaker_roles_are_refused(brand, clerk_api, shared, member):
    agent = f.ApiClient(f.make_api_key(brand, role="hq_agent"))
    for client in (clerk_api, agent):
        assert (
            client.post("/api/v1/coupons/validate", {"code": "SALE10", "basket_total": 1}).status_code == 403
        )
        assert _redeem(client, "SALE10", "S-1").status_code == 403
        assert client.post("/api/v1/coupons/reverse", {"transaction_id": "S-1"}).status_code == 403
        assert _points(client, member, 1, "S-1").status_code == 403
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0


def test_another_brand_reaches_neither_the_code_nor_the_member(other_api, shared, member, admin_actor):
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=admin_actor)

    code = _redeem(other_api, "SALE10", "S-1")
    by_id = _points(other_api, member, 100, "S-1")
    by_phone = other_api.post(
        "/api/v1/coupons/validate", {"code": "SALE10", "phone": "0912000111", "basket_total": 150000}
    )

    assert code.status_code == 422 and code.json()["code"] == "coupon_other_brand"
    assert by_id.status_code == 404
    assert by_phone.status_code == 404 and by_phone.json()["code"] == "customer_unknown"
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0
    assert LoyaltyAccount.objects.get(customer=member).balance == 500


# --- the sale arrives as an order -------------------------------------------------------------


def _pos_order(sale: str, member_phone: str) -> dict:
    return {
        "source": "pos",
        "external_id": sale,
        "sales_channel": "pos",
        "store_code": "TPE01",
        "placed_at": timezone.now().isoformat(),
        "customer": {"phone": member_phone},
        "lines": [{"title": "手工皂", "quantity": 1, "unit_price": 100000}],
        "discounts": [
            {"code": "SALE10", "kind": "coupon", "amount": 10000},
            {"kind": "points", "amount": 20000},
        ],
        "status": "paid",
    }


def test_cancelling_the_posted_sale_gives_coupon_and_points_back_once(till, shared, member, admin_actor):
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=admin_actor)
    _redeem(till, "SALE10", "S-77", customer_id=member.pk)
    _points(till, member, 200, "S-77")

    posted = till.post("/api/v1/orders", _pos_order("S-77", "0912000111"))

    assert posted.status_code == 201, posted.content
    order_id = posted.json()["id"]
    assert CouponRedemption.objects.get(transaction_id="S-77").order_id == order_id
    assert PointsEntry.objects.get(idempotency_key="till:redeem:S-77").order_id == order_id
    earned = PointsEntry.objects.get(kind="earn").delta

    # the till voids the points first, then HQ cancels the order: given back once
    till.post(f"/api/v1/customers/{member.pk}/points/reverse", {"transaction_id": "S-77"})
    cancelled = till.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "整筆作廢"})

    assert cancelled.status_code == 200, cancelled.content
    assert earned > 0
    assert LoyaltyAccount.objects.get(customer=member).balance == 500
    assert PointsEntry.objects.filter(kind="restore").count() == 1
    assert CouponCode.objects.get(pk=shared.pk).times_used == 0
    assert CouponRedemption.objects.get(transaction_id="S-77").reversed_at is not None


def test_a_till_key_records_only_its_own_stores_pos_sales(till, other_store):
    other = _pos_order("S-1", "0912000111") | {"store_code": other_store.code}
    web = _pos_order("S-2", "0912000111") | {"sales_channel": "web_shop"}

    assert till.post("/api/v1/orders", other).status_code == 403
    assert till.post("/api/v1/orders", web).status_code == 403
