"""GET/PATCH /api/v1/settings/attribution: the click window, the bound-clerk switch, the precedence."""

from __future__ import annotations

import pytest

from omo.attribution.models import AttributionSettings
from omo.attribution.services import decision
from omo.core.models import AuditLog
from omo.testing import factories as f

URL = "/api/v1/settings/attribution"


def test_defaults_and_the_precedence_in_sentences(api):
    body = api.get(URL).json()
    assert body["window_days"] == 30
    assert body["credit_bound_clerk"] is False
    assert [step["rule"] for step in body["precedence"]] == [
        "pos_staff",
        "clerk_coupon",
        "link_click",
        "bound_clerk",
    ]
    link = body["precedence"][2]
    assert "30 天內" in link["sentence_zh"]
    assert link["sentence_en"].startswith("A link click within 30 days")
    assert body["precedence"][3]["active"] is False
    assert not AttributionSettings.objects.exists()


def test_window_is_set_audited_and_used_by_the_decision(api, brand):
    response = api.patch(URL, {"window_days": 7, "credit_bound_clerk": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["window_days"] == 7 and body["credit_bound_clerk"] is True
    assert "7 天內" in body["precedence"][2]["sentence_zh"]
    assert body["precedence"][3]["active"] is True
    ctx = decision.brand_context(brand)
    assert ctx.window_days == 7 and ctx.credit_bound_clerk is True
    log = AuditLog.objects.get(brand=brand, action="attribution_settings.changed")
    assert log.detail["before"] == {"window_days": 30, "credit_bound_clerk": False}
    assert log.detail["after"] == {"window_days": 7, "credit_bound_clerk": True}


def test_a_partial_change_keeps_the_rest(api, brand):
    api.patch(URL, {"credit_bound_clerk": True})
    api.patch(URL, {"window_days": 14})
    conf = AttributionSettings.objects.get(brand=brand)
    assert (conf.window_days, conf.credit_bound_clerk) == (14, True)


@pytest.mark.parametrize("days", [0, 91, -5, None])
def test_bad_window_names_the_field(api, brand, days):
    response = api.patch(URL, {"window_days": days})
    assert response.status_code == 422, response.content
    assert response.json()["field"] == "window_days"
    assert not AttributionSettings.objects.filter(brand=brand).exists()


def test_other_brand_is_separate(api, other_api, brand):
    other_api.patch(URL, {"window_days": 3})
    assert api.get(URL).json()["window_days"] == 30
    assert not AttributionSettings.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("role", ["hq_agent", "store_manager", "clerk"])
def test_weaker_roles_may_not_change_it(brand, store, role):
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store if role == "store_manager" else None))
    assert client.patch(URL, {"window_days": 3}).status_code == 403
    assert not AttributionSettings.objects.filter(brand=brand).exists()
