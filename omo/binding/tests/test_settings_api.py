"""GET/PATCH /api/v1/settings/binding: the brand's binding policy."""

from __future__ import annotations

import pytest

from omo.binding.models import BindingPolicy
from omo.core.models import AuditLog
from omo.testing import factories as f

URL = "/api/v1/settings/binding"


def test_default_is_first_keeps_with_its_sentence(api):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["rule"] == "first_keeps"
    assert body["lock_days"] == 90
    assert "不會改綁" in body["explanation_zh"]
    assert not BindingPolicy.objects.exists()  # reading writes nothing


def test_locked_days_is_set_and_audited(api, brand):
    response = api.patch(URL, {"rule": "locked_days", "lock_days": 30})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["rule"], body["lock_days"]) == ("locked_days", 30)
    assert "30 天" in body["explanation_zh"] and "30 days" in body["explanation_en"]
    policy = BindingPolicy.objects.get(brand=brand)
    assert (policy.rule, policy.lock_days) == ("locked_days", 30)
    log = AuditLog.objects.get(brand=brand, action="binding_policy.changed")
    assert log.detail["before"] == {"rule": "first_keeps", "lock_days": 90}
    assert log.detail["after"] == {"rule": "locked_days", "lock_days": 30}


def test_latest_wins_needs_no_days(api, brand):
    response = api.patch(URL, {"rule": "latest_wins"})
    assert response.status_code == 200
    assert BindingPolicy.objects.get(brand=brand).rule == "latest_wins"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rule": "locked_days", "lock_days": 0}, "lock_days"),
        ({"rule": "locked_days", "lock_days": 366}, "lock_days"),
        ({"rule": "locked_days", "lock_days": None}, "lock_days"),
        ({"rule": "latest_wins", "lock_days": -1}, "lock_days"),
    ],
)
def test_bad_values_name_the_field_and_change_nothing(api, brand, body, field):
    response = api.patch(URL, body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert "天" in response.json()["detail"]
    assert not BindingPolicy.objects.filter(brand=brand).exists()
    assert not AuditLog.objects.filter(action="binding_policy.changed").exists()


def test_unknown_rule_is_refused(api, brand):
    response = api.patch(URL, {"rule": "forever"})
    assert response.status_code == 422
    assert not BindingPolicy.objects.filter(brand=brand).exists()


def test_other_brand_sees_and_changes_only_its_own(api, other_api, brand, other_brand):
    api.patch(URL, {"rule": "latest_wins"})
    assert other_api.get(URL).json()["rule"] == "first_keeps"
    other_api.patch(URL, {"rule": "locked_days", "lock_days": 7})
    assert BindingPolicy.objects.get(brand=brand).rule == "latest_wins"
    assert BindingPolicy.objects.get(brand=other_brand).lock_days == 7


@pytest.mark.parametrize("role", ["hq_agent", "store_manager", "clerk"])
def test_weaker_roles_may_not_change_it(brand, store, role):
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store if role == "store_manager" else None))
    response = client.patch(URL, {"rule": "latest_wins"})
    assert response.status_code == 403
    assert not BindingPolicy.objects.filter(brand=brand).exists()


def test_clerk_may_not_read_it(clerk_api):
    assert clerk_api.get(URL).status_code == 403
