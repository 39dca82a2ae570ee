"""/api/v1/settings/loyalty: points rules, and creating, changing and deleting tiers."""

from __future__ import annotations

import pytest

from omo.core.models import AuditLog
from omo.loyalty.models import LoyaltyProgram, Tier
from omo.testing import factories as f

URL = "/api/v1/settings/loyalty"
TIERS = f"{URL}/tiers"


def _tier(brand, name, threshold, multiplier=100):
    return Tier.objects.create(
        brand=brand, name=name, threshold=threshold, earn_multiplier_percent=multiplier
    )


def test_defaults_and_tiers_lowest_first(api, brand):
    _tier(brand, "金卡", 2000000, 150)
    _tier(brand, "銀卡", 500000, 120)
    body = api.get(URL).json()
    assert body["earn_points"] == 1 and body["earn_per_amount"] == 10000
    assert body["expiry_months"] == 12 and body["max_redeem_percent"] == 50
    assert [tier["name"] for tier in body["tiers"]] == ["銀卡", "金卡"]


def test_program_change_is_audited(api, brand):
    response = api.patch(URL, {"earn_per_amount": 5000, "expiry_months": 0})
    assert response.status_code == 200, response.content
    program = LoyaltyProgram.objects.get(brand=brand)
    assert (program.earn_per_amount, program.expiry_months, program.point_value) == (5000, 0, 100)
    log = AuditLog.objects.get(brand=brand, action="loyalty_program.changed")
    assert log.detail["before"]["earn_per_amount"] == 10000
    assert log.detail["after"]["expiry_months"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_redeem_percent": 101}, "max_redeem_percent"),
        ({"earn_points": 0}, "earn_points"),
        ({"earn_per_amount": 0}, "earn_per_amount"),
        ({"expiry_months": -1}, "expiry_months"),
        ({"tier_window_days": None}, "tier_window_days"),
    ],
)
def test_bad_program_values_name_the_field(api, brand, body, field):
    response = api.patch(URL, body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert not AuditLog.objects.filter(action="loyalty_program.changed").exists()


def test_tier_create_change_delete(api, brand):
    created = api.post(
        TIERS, {"name": "銀卡", "name_en": "Silver", "threshold": 500000, "earn_multiplier_percent": 120}
    )
    assert created.status_code == 201, created.content
    tier_id = created.json()["id"]
    changed = api.patch(f"{TIERS}/{tier_id}", {"threshold": 600000})
    assert changed.status_code == 200, changed.content
    assert Tier.objects.get(pk=tier_id).threshold == 600000
    assert api.delete(f"{TIERS}/{tier_id}").status_code == 204
    assert not Tier.objects.filter(pk=tier_id).exists()
    actions = list(AuditLog.objects.filter(brand=brand).order_by("id").values_list("action", flat=True))
    assert actions == ["tier.created", "tier.changed", "tier.deleted"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "金卡", "threshold": 500000, "earn_multiplier_percent": 150}, "threshold"),  # duplicate
        ({"name": "銀卡", "threshold": 900000, "earn_multiplier_percent": 150}, "name"),  # duplicate name
        ({"name": "金卡", "threshold": 900000, "earn_multiplier_percent": 100}, "earn_multiplier_percent"),
        ({"name": "銅卡", "threshold": 100000, "earn_multiplier_percent": 130}, "earn_multiplier_percent"),
        ({"name": "金卡", "threshold": -1}, "threshold"),
        ({"name": " ", "threshold": 900000}, "name"),
    ],
)
def test_tier_thresholds_ascend_without_duplicates(api, brand, body, field):
    _tier(brand, "銀卡", 500000, 120)
    response = api.post(TIERS, body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert Tier.objects.filter(brand=brand).count() == 1


def test_other_brand_cannot_touch_a_tier(other_api, brand):
    tier = _tier(brand, "銀卡", 500000)
    assert other_api.patch(f"{TIERS}/{tier.pk}", {"threshold": 1}).status_code == 404
    assert other_api.delete(f"{TIERS}/{tier.pk}").status_code == 404
    assert Tier.objects.get(pk=tier.pk).threshold == 500000
    assert other_api.get(URL).json()["tiers"] == []


@pytest.mark.parametrize("role", ["hq_agent", "store_manager", "clerk"])
def test_weaker_roles_may_not_change_rules(brand, store, role):
    tier = _tier(brand, "銀卡", 500000)
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store if role == "store_manager" else None))
    assert client.patch(URL, {"expiry_months": 1}).status_code == 403
    assert client.post(TIERS, {"name": "金卡", "threshold": 900000}).status_code == 403
    assert client.delete(f"{TIERS}/{tier.pk}").status_code == 403
    assert Tier.objects.filter(brand=brand).count() == 1
    assert not LoyaltyProgram.objects.filter(brand=brand, expiry_months=1).exists()
