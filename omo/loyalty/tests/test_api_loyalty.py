"""Loyalty over the REST API: balance and ledger, manual adjustment, tiers, coupons and codes."""

from __future__ import annotations

from omo.core.models import AuditLog
from omo.loyalty.models import CouponCode, PointsEntry, Tier
from omo.testing import factories as f


def test_balance_ledger_and_adjustment(api, brand):
    customer = f.make_customer(brand)
    assert api.get(f"/api/v1/customers/{customer.pk}/loyalty").json() == {
        "customer_id": customer.pk,
        "balance": 0,
        "lifetime_earned": 0,
        "rolling_spend": 0,
        "currency": "TWD",
        "point_value": 100,
        "tier": None,
    }

    response = api.post(f"/api/v1/customers/{customer.pk}/points", {"delta": 150, "reason": "客訴補償"})

    assert response.status_code == 201, response.content
    assert (response.json()["delta"], response.json()["kind"], response.json()["reason"]) == (
        150,
        "adjust",
        "客訴補償",
    )
    assert api.get(f"/api/v1/customers/{customer.pk}/loyalty").json()["balance"] == 150
    ledger = api.get(f"/api/v1/customers/{customer.pk}/points").json()
    assert ledger["total"] == 1 and ledger["items"][0]["delta"] == 150
    assert AuditLog.objects.filter(action="points.adjusted", detail__delta=150).exists()


def test_taking_more_than_the_balance_is_409(api, brand):
    customer = f.make_customer(brand)
    response = api.post(f"/api/v1/customers/{customer.pk}/points", {"delta": -5, "reason": "修正"})
    assert response.status_code == 409
    assert response.json()["field"] == "points"
    assert not PointsEntry.objects.exists()


def test_adjustment_needs_a_reason_and_a_non_zero_delta(api, brand):
    customer = f.make_customer(brand)
    missing = api.post(f"/api/v1/customers/{customer.pk}/points", {"delta": 5})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "reason"
    zero = api.post(f"/api/v1/customers/{customer.pk}/points", {"delta": 0, "reason": "x"})
    assert zero.status_code == 422 and zero.json()["field"] == "delta"


def test_tiers_in_threshold_order(api, brand):
    Tier.objects.create(brand=brand, name="金卡", threshold=3000000, earn_multiplier_percent=150)
    Tier.objects.create(brand=brand, name="銀卡", threshold=1000000)
    assert [(t["name"], t["threshold"], t["currency"]) for t in api.get("/api/v1/tiers").json()] == [
        ("銀卡", 1000000, "TWD"),
        ("金卡", 3000000, "TWD"),
    ]


def test_coupon_with_shared_and_issued_codes(api, brand):
    created = api.post(
        "/api/v1/coupons", {"name": "滿千折百", "kind": "amount_off", "value": 10000, "min_spend": 100000}
    )
    assert created.status_code == 201, created.content
    coupon = created.json()
    assert (coupon["kind"], coupon["value"], coupon["min_spend"], coupon["currency"]) == (
        "amount_off",
        10000,
        100000,
        "TWD",
    )
    shared = api.post(f"/api/v1/coupons/{coupon['id']}/codes", {"code": "spring100", "max_uses": 50})
    assert shared.status_code == 201 and shared.json()["code"] == "SPRING100"
    again = api.post(f"/api/v1/coupons/{coupon['id']}/codes", {"code": "SPRING100"})
    assert again.status_code == 409 and again.json()["field"] == "code"

    customers = [f.make_customer(brand, phone=f"+88691234567{n}") for n in range(2)]
    issued = api.post(
        f"/api/v1/coupons/{coupon['id']}/codes/issue",
        {"customer_ids": [c.pk for c in customers], "prefix": "vip"},
    )
    assert issued.status_code == 201
    assert [code["customer_id"] for code in issued.json()] == [c.pk for c in customers]
    assert all(code["code"].startswith("VIP") and code["max_uses"] == 1 for code in issued.json())
    assert api.get(f"/api/v1/coupons/{coupon['id']}/codes").json()["total"] == 3


def test_bad_coupon_values_name_the_field(api, brand):
    response = api.post("/api/v1/coupons", {"name": "x", "kind": "percent_off", "value": 150})
    assert response.status_code == 422 and response.json()["field"] == "value"
    response = api.post("/api/v1/coupons", {"name": "x", "kind": "gift"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "kind"


def test_codes_cannot_be_issued_to_another_brands_customers(api, brand, other_brand):
    coupon = api.post("/api/v1/coupons", {"name": "x", "kind": "free_shipping"}).json()
    stranger = f.make_customer(other_brand)
    response = api.post(f"/api/v1/coupons/{coupon['id']}/codes/issue", {"customer_ids": [stranger.pk]})
    assert response.status_code == 422 and response.json()["field"] == "customer_ids"
    assert not CouponCode.objects.exists()


def test_clerk_key_reads_but_may_not_adjust(clerk_api, brand):
    customer = f.make_customer(brand)
    response = clerk_api.post(f"/api/v1/customers/{customer.pk}/points", {"delta": 1, "reason": "x"})
    assert response.status_code == 403
    assert clerk_api.get("/api/v1/coupons").status_code == 200
