"""The rule pages under 設定: binding, attribution, inbox SLA and hours, points and tiers."""

from __future__ import annotations

import pytest

from omo.attribution.models import AttributionSettings
from omo.binding.models import BindingPolicy
from omo.core.models import AuditLog
from omo.inbox.models import InboxSettings
from omo.loyalty.models import LoyaltyProgram, Tier

PAGES = [
    "/console/settings/binding/",
    "/console/settings/attribution/",
    "/console/settings/inbox/",
    "/console/settings/loyalty/",
]


@pytest.mark.parametrize("url", PAGES)
def test_each_page_shows_the_value_in_force_when_never_set(console, url):
    response = console.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="btn btn-primary"' in html and "data-read-only" not in html
    expected = {
        "binding": "先綁定者保留",
        "attribution": "30 天",
        "inbox": "10 分鐘",
        "loyalty": "點數 12 個月後到期",
    }[url.split("/")[3]]
    assert expected in html


@pytest.mark.parametrize("url", PAGES)
def test_an_hq_agent_reads_but_may_not_change(client_for, hq_agent, url):
    client = client_for(hq_agent)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-read-only" in html and 'class="btn btn-primary"' not in html
    assert (
        client.post(url, {"rule": "latest_wins", "window_days": "3", "sla_minutes": "3"}).status_code == 403
    )
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("url", PAGES)
def test_store_managers_are_refused(client_for, manager, url):
    assert client_for(manager).get(url).status_code == 403


def test_binding_policy_locked_days(console, brand):
    response = console.post("/console/settings/binding/", {"rule": "locked_days", "lock_days": "45"})
    assert response.status_code == 302
    policy = BindingPolicy.objects.get(brand=brand)
    assert (policy.rule, policy.lock_days) == ("locked_days", 45)
    assert AuditLog.objects.filter(brand=brand, action="binding_policy.changed").count() == 1
    page = console.get("/console/settings/binding/").content.decode()
    assert "綁定後 45 天內維持原店員" in page


@pytest.mark.parametrize("days", ["", "0", "400", "abc"])
def test_binding_policy_bad_lock_days(console, brand, days):
    response = console.post("/console/settings/binding/", {"rule": "locked_days", "lock_days": days})
    assert response.status_code == 400
    assert "鎖定" in response.content.decode()
    assert not BindingPolicy.objects.filter(brand=brand).exists()


def test_attribution_window_and_sentences(console, brand):
    response = console.post(
        "/console/settings/attribution/", {"window_days": "7", "credit_bound_clerk": "on"}
    )
    assert response.status_code == 302
    conf = AttributionSettings.objects.get(brand=brand)
    assert (conf.window_days, conf.credit_bound_clerk) == (7, True)
    page = console.get("/console/settings/attribution/").content.decode()
    assert "7 天內點擊過店員的導購連結" in page
    assert "A link click within 7 days before the order credits the clerk whose link it was" in page
    assert AuditLog.objects.filter(brand=brand, action="attribution_settings.changed").exists()


@pytest.mark.parametrize("days", ["0", "91", "x"])
def test_attribution_bad_window(console, brand, days):
    response = console.post("/console/settings/attribution/", {"window_days": days})
    assert response.status_code == 400
    assert "歸屬天數" in response.content.decode()
    assert not AttributionSettings.objects.filter(brand=brand).exists()


def test_sla_and_store_hours(console, brand, store):
    assert console.post("/console/settings/inbox/", {"sla_minutes": "20"}).status_code == 302
    assert InboxSettings.objects.get(brand=brand).sla_minutes == 20
    url = f"/console/settings/inbox/stores/{store.pk}/"
    form = {day: "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    form |= {"mon": "10:00-14:00, 17:00-21:30", "sat": "11:00-22:00"}
    assert console.post(url, form).status_code == 302
    store.refresh_from_db()
    assert store.opening_hours["mon"] == [["10:00", "14:00"], ["17:00", "21:30"]]
    assert store.opening_hours["sun"] == []
    page = console.get("/console/settings/inbox/").content.decode()
    assert "10:00-14:00, 17:00-21:30" in page and "公休" in page
    assert AuditLog.objects.filter(brand=brand, action="store.opening_hours_changed").exists()


def test_bad_sla_and_bad_hours_name_the_field(console, brand, store):
    response = console.post("/console/settings/inbox/", {"sla_minutes": "0"})
    assert response.status_code == 400 and "回覆時限" in response.content.decode()
    before = store.opening_hours
    response = console.post(f"/console/settings/inbox/stores/{store.pk}/", {"tue": "25:00-21:00"})
    assert response.status_code == 400
    assert "HH:MM" in response.content.decode()
    store.refresh_from_db()
    assert store.opening_hours == before


def test_other_brands_store_hours_page_is_404(client_for, other_admin, store):
    assert client_for(other_admin).get(f"/console/settings/inbox/stores/{store.pk}/").status_code == 404


def test_points_rules(console, brand):
    form = {
        "form": "program",
        "program-earn_points": "2",
        "program-earn_per_amount": "50",
        "program-point_value": "1",
        "program-max_redeem_percent": "30",
        "program-expiry_months": "0",
        "program-tier_window_days": "180",
    }
    assert console.post("/console/settings/loyalty/", form).status_code == 302
    program = LoyaltyProgram.objects.get(brand=brand)
    assert (program.earn_points, program.earn_per_amount, program.point_value) == (2, 5000, 100)
    assert (program.max_redeem_percent, program.expiry_months, program.tier_window_days) == (30, 0, 180)
    bad = console.post("/console/settings/loyalty/", form | {"program-max_redeem_percent": "120"})
    assert bad.status_code == 400 and "點數折抵上限" in bad.content.decode()


def test_tier_create_edit_delete(console, brand):
    create = {
        "form": "tier",
        "tier-name": "銀卡",
        "tier-threshold": "5000",
        "tier-earn_multiplier_percent": "120",
    }
    assert console.post("/console/settings/loyalty/", create).status_code == 302
    tier = Tier.objects.get(brand=brand)
    assert (tier.name, tier.threshold, tier.earn_multiplier_percent) == ("銀卡", 500000, 120)
    edit = {"name": "銀卡", "threshold": "6000", "earn_multiplier_percent": "120"}
    assert console.post(f"/console/settings/loyalty/tiers/{tier.pk}/", edit).status_code == 302
    assert Tier.objects.get(pk=tier.pk).threshold == 600000
    assert console.post(f"/console/settings/loyalty/tiers/{tier.pk}/delete/").status_code == 302
    assert not Tier.objects.filter(pk=tier.pk).exists()
    actions = set(AuditLog.objects.filter(brand=brand).values_list("action", flat=True))
    assert {"tier.created", "tier.changed", "tier.deleted"} <= actions


def test_tier_duplicate_threshold_is_refused(console, brand):
    Tier.objects.create(brand=brand, name="銀卡", threshold=500000, earn_multiplier_percent=120)
    dup = {
        "form": "tier",
        "tier-name": "金卡",
        "tier-threshold": "5000",
        "tier-earn_multiplier_percent": "150",
    }
    response = console.post("/console/settings/loyalty/", dup)
    assert response.status_code == 400
    assert "門檻與「銀卡」相同" in response.content.decode()
    lower = dup | {"tier-threshold": "20000", "tier-earn_multiplier_percent": "100"}
    response = console.post("/console/settings/loyalty/", lower)
    assert response.status_code == 400 and "點數倍率不可低於" in response.content.decode()
    assert Tier.objects.filter(brand=brand).count() == 1


def test_tier_list_links_to_editing_for_admins_only(console, client_for, hq_agent):
    assert "data-edit-tiers" in console.get("/console/loyalty/tiers/").content.decode()
    assert "data-edit-tiers" not in client_for(hq_agent).get("/console/loyalty/tiers/").content.decode()


def test_settings_nav_lists_the_rule_pages(console):
    html = console.get("/console/settings/binding/").content.decode()
    for url in PAGES:
        assert f'href="{url}"' in html


def test_attribution_rules_are_reordered_by_moving_one_up(console, brand):
    response = console.post("/console/settings/attribution/", {"move": "link_click:up"})
    assert response.status_code == 302
    assert AttributionSettings.objects.get(brand=brand).precedence == [
        "pos_staff",
        "link_click",
        "clerk_coupon",
        "bound_clerk",
    ]
    html = console.get("/console/settings/attribution/").content.decode()
    assert html.index('data-rule="link_click"') < html.index('data-rule="clerk_coupon"')


def test_an_unknown_move_changes_nothing(console, brand):
    response = console.post("/console/settings/attribution/", {"move": "campaign:up"}, follow=True)
    assert "不認得的規則" in response.content.decode()
    assert not AttributionSettings.objects.filter(brand=brand).exists()


def test_the_rule_pages_read_in_english(console, store):
    console.post("/i18n/setlang/", {"language": "en", "next": "/console/settings/inbox/"})
    body = console.get("/console/settings/inbox/").content.decode()
    assert "<h1>Reply SLA and opening hours</h1>" in body
    assert "First reply SLA (minutes)" in body and "<th>Mon</th>" in body
    body = console.get("/console/settings/binding/").content.decode()
    assert "<h1>Binding policy</h1>" in body


def test_malformed_stored_hours_still_show(console, store):
    type(store).objects.filter(pk=store.pk).update(
        opening_hours={"mon": [["10:00"], ["10:00", "18:00"]], "tue": 5}
    )
    assert "10:00-18:00" in console.get("/console/settings/inbox/").content.decode()
    assert console.get(f"/console/settings/inbox/stores/{store.pk}/").status_code == 200
