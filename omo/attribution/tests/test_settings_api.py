"""GET/PATCH /api/v1/settings/attribution: the click window, the bound-clerk switch, the precedence."""

from __future__ import annotations

import datetime as dt

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
    default = list(decision.DEFAULT_PRECEDENCE)
    assert log.detail["before"] == {"window_days": 30, "credit_bound_clerk": False, "precedence": default}
    assert log.detail["after"] == {"window_days": 7, "credit_bound_clerk": True, "precedence": default}


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


# --- the order of precedence ------------------------------------------------------------------------


def test_precedence_is_reordered_and_audited(api, brand):
    order = ["link_click", "pos_staff", "clerk_coupon", "bound_clerk"]
    response = api.patch(URL, {"precedence": order})
    assert response.status_code == 200, response.content
    assert [step["rule"] for step in response.json()["precedence"]] == order
    assert decision.brand_context(brand).precedence == tuple(order)
    log = AuditLog.objects.get(brand=brand, action="attribution_settings.changed")
    assert log.detail["after"]["precedence"] == order
    assert log.detail["before"]["precedence"] == list(decision.DEFAULT_PRECEDENCE)


@pytest.mark.parametrize(
    "order",
    [
        ["pos_staff", "clerk_coupon", "link_click"],
        ["pos_staff", "pos_staff", "link_click", "bound_clerk"],
        ["pos_staff", "clerk_coupon", "link_click", "bound_clerk", "campaign"],
        None,
    ],
)
def test_bad_precedence_names_the_field(api, brand, order):
    response = api.patch(URL, {"precedence": order})
    assert response.status_code == 422, response.content
    assert response.json()["field"] == "precedence"
    assert not AttributionSettings.objects.filter(brand=brand).exists()


def test_a_reordered_brand_credits_by_its_order(brand, store):
    """POS staff id first by default; with the link click first, the clerk whose link was clicked wins."""
    seller = f.make_user(brand, "seller", role="clerk", store=store, display_name="陳店員")
    linker = f.make_user(brand, "linker", role="clerk", store=store, display_name="林店員")
    ctx = decision.brand_context(brand)
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    order = decision.OrderFacts(
        id=1,
        customer_id=7,
        staff_id=seller.pk,
        sales_channel="pos",
        coupon_code="",
        ref="",
        placed_at=now,
        store_id=store.pk,
        subtotal=100000,
        discount_total=0,
        status="paid",
    )
    click = decision.ClickFact(clicked_at=now - dt.timedelta(days=2), id=3, clerk_id=linker.pk, link_id=4)
    assert decision.decide(order, ctx, customer_clicks=[click]).clerk_id == seller.pk
    AttributionSettings.objects.create(
        brand=brand, precedence=["link_click", "pos_staff", "clerk_coupon", "bound_clerk"]
    )
    reordered = decision.brand_context(brand)
    decided = decision.decide(order, reordered, customer_clicks=[click])
    assert (decided.rule, decided.clerk_id) == ("link_click", linker.pk)
    without_click = decision.decide(order, reordered)
    assert (without_click.rule, without_click.clerk_id) == ("pos_staff", seller.pk)
    assert "取得業績" in without_click.reason_zh  # not "comes first" when it is not first
