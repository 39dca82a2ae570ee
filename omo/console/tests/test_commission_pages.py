"""Console: 設定 → 分潤規則 (rules with the precedence in sentences), 總覽 → 分潤月結 (every clerk's
month, month picker, payroll CSV, one clerk's lines) and their roles."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from omo.attribution.models import CommissionEntry, CommissionRule
from omo.commerce.models import Order
from omo.core.models import AuditLog
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 12, 7, 10, tzinfo=TAIPEI), tick=False):
        yield


# --- rules -------------------------------------------------------------------------------------


def test_an_admin_adds_a_rule_and_reads_the_precedence(client_for, hq_admin, store):
    client = client_for(hq_admin)
    page = client.get("/console/settings/commission/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "指定店員的規則優先於指定商品分類的規則" in body
    assert 'href="/console/settings/commission/"' in body  # in the navigation

    response = client.post(
        "/console/settings/commission/",
        {"kind": "percent", "rate": "2.5", "starts_on": "2026-12-01", "store": str(store.pk)},
    )
    assert response.status_code == 302
    rule = CommissionRule.objects.get()
    assert (rule.kind, rule.rate_bp, rule.store_id, rule.ends_on) == ("percent", 250, store.pk, None)
    assert AuditLog.objects.filter(action="commission_rule.created", actor_user=hq_admin).count() == 1
    assert (
        "門市 台北信義店：銷售額的 2.5%，2026-12-01 起，未設結束日。"
        in client.get("/console/settings/commission/").content.decode()
    )


def test_refusals_show_on_the_form_and_write_nothing(client_for, hq_admin, store):
    client = client_for(hq_admin)
    CommissionRule.objects.create(
        brand=hq_admin.brand, rate_bp=100, starts_on=dt.date(2026, 1, 1), store=store
    )
    overlap = client.post(
        "/console/settings/commission/",
        {"kind": "percent", "rate": "3", "starts_on": "2026-12-01", "store": str(store.pk)},
    )
    assert overlap.status_code == 400
    assert "同一範圍已有規則" in overlap.content.decode()
    over = client.post(
        "/console/settings/commission/", {"kind": "percent", "rate": "120", "starts_on": "2026-12-01"}
    )
    assert "分潤比例不可超過 100%" in over.content.decode()
    reversed_dates = client.post(
        "/console/settings/commission/",
        {"kind": "fixed", "fixed_amount": "50", "starts_on": "2026-12-01", "ends_on": "2026-11-01"},
    )
    assert "結束日不可早於生效日" in reversed_dates.content.decode()
    assert CommissionRule.objects.count() == 1


def test_an_admin_ends_a_rule_and_deletes_it(client_for, hq_admin):
    client = client_for(hq_admin)
    rule = CommissionRule.objects.create(
        brand=hq_admin.brand, kind="fixed", fixed_amount=5000, starts_on=dt.date(2026, 1, 1)
    )
    edit = client.get(f"/console/settings/commission/{rule.pk}/")
    assert edit.status_code == 200 and 'value="50"' in edit.content.decode()
    changed = client.post(
        f"/console/settings/commission/{rule.pk}/",
        {"kind": "fixed", "fixed_amount": "50", "starts_on": "2026-01-01", "ends_on": "2026-12-15"},
    )
    assert changed.status_code == 302
    rule.refresh_from_db()
    assert rule.ends_on == dt.date(2026, 12, 15)
    assert client.post(f"/console/settings/commission/{rule.pk}/delete/").status_code == 302
    assert not CommissionRule.objects.exists()
    assert AuditLog.objects.filter(action="commission_rule.deleted").count() == 1


def test_rule_pages_by_role(client_for, brand, hq_agent, manager, clerk):
    rule = CommissionRule.objects.create(brand=brand, rate_bp=100, starts_on=dt.date(2026, 1, 1))
    agent = client_for(hq_agent)
    page = agent.get("/console/settings/commission/")
    assert page.status_code == 200 and "data-read-only" in page.content.decode()
    assert (
        agent.post(
            "/console/settings/commission/", {"kind": "percent", "rate": "1", "starts_on": "2026-12-01"}
        ).status_code
        == 403
    )
    assert agent.get(f"/console/settings/commission/{rule.pk}/").status_code == 403
    assert agent.post(f"/console/settings/commission/{rule.pk}/delete/").status_code == 403
    assert client_for(manager).get("/console/settings/commission/").status_code == 403
    assert client_for(clerk).get("/console/settings/commission/").status_code == 403
    assert CommissionRule.objects.get().rate_bp == 100


def test_another_brands_admin_cannot_see_or_change_a_rule(client_for, brand, other_admin):
    rule = CommissionRule.objects.create(brand=brand, rate_bp=100, starts_on=dt.date(2026, 1, 1))
    client = client_for(other_admin)
    assert "1%" not in client.get("/console/settings/commission/").content.decode()
    assert client.get(f"/console/settings/commission/{rule.pk}/").status_code == 404
    assert client.post(f"/console/settings/commission/{rule.pk}/delete/").status_code == 404
    assert CommissionRule.objects.filter(pk=rule.pk).exists()


# --- statements -------------------------------------------------------------------------------


def credit(brand, person, amount, month: dt.date, *, external_id: str, store=None) -> None:
    """A sale entry for `person` counted in `month` (the ledger row the statement reads)."""
    order = Order.objects.create(
        brand=brand,
        source="api",
        external_id=external_id,
        sales_channel="pos",
        store=store,
        placed_at=dt.datetime(month.year, month.month, 5, 12, tzinfo=TAIPEI),
        status="paid",
        currency="TWD",
        subtotal=amount * 10,
        total=amount * 10,
    )
    CommissionEntry.objects.create(
        brand=brand, clerk=person, order=order, kind="sale", basis=amount * 10, amount=amount, month=month
    )


@pytest.fixture
def booked(brand, store, other_store, clerk):
    far = f.make_user(
        brand, "far", role="clerk", store=other_store, display_name="高雄阿明", employee_code="K1"
    )
    credit(brand, clerk, 12300, dt.date(2026, 12, 1), external_id="a", store=store)
    credit(brand, clerk, 4500, dt.date(2026, 11, 1), external_id="b", store=store)
    credit(brand, far, 50000, dt.date(2026, 12, 1), external_id="c", store=other_store)
    return far


def test_hq_sees_every_clerk_this_month_by_default(client_for, hq_admin, booked):
    page = client_for(hq_admin).get("/console/commission/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "2026/12" in body and "高雄阿明" in body and "NT$123" in body and "NT$500" in body
    assert 'data-month="2026-11"' in body  # last month's quick link
    assert 'href="/console/commission/"' in body  # in the navigation


def test_the_month_picker_reads_any_month_and_names_a_bad_one(client_for, hq_admin, booked):
    client = client_for(hq_admin)
    november = client.get("/console/commission/", {"month": "2026-11"}).content.decode()
    assert "2026/11" in november and "NT$45" in november
    bad = client.get("/console/commission/", {"month": "december"}).content.decode()
    assert "月份格式須為 YYYY-MM" in bad and "2026/12" in bad


def test_the_payroll_csv_downloads_from_the_page(client_for, hq_admin, booked):
    response = client_for(hq_admin).get("/console/commission/", {"month": "2026-12", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="payroll-2026-12.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff員工編號 staff_code")
    assert "E001,clerk,台北信義店,2026-12,1,1230.00,0.00,0.00,123.00" in text
    assert "K1,高雄阿明,高雄夢時代店,2026-12,1,5000.00,0.00,0.00,500.00" in text


def test_a_store_manager_sees_only_their_store_and_clerks_are_refused(client_for, manager, clerk, booked):
    page = client_for(manager).get("/console/commission/", {"month": "2026-12"})
    body = page.content.decode()
    assert page.status_code == 200 and "NT$123" in body and "高雄阿明" not in body
    csv_text = client_for(manager).get("/console/commission/", {"format": "csv"}).content.decode()
    assert "高雄阿明" not in csv_text and "台北信義店" in csv_text
    assert client_for(manager).get(f"/console/commission/{booked.pk}/").status_code == 404
    assert client_for(clerk).get("/console/commission/").status_code == 403
    assert client_for(clerk).get(f"/console/commission/{clerk.pk}/").status_code == 403


def test_one_clerks_lines(client_for, hq_admin, clerk, booked):
    page = client_for(hq_admin).get(f"/console/commission/{clerk.pk}/", {"month": "2026-12"})
    assert page.status_code == 200
    assert 'data-kind="sale"' in page.content.decode()


def test_another_brand_sees_none_of_the_statements(client_for, other_admin, clerk, booked):
    client = client_for(other_admin)
    assert "高雄阿明" not in client.get("/console/commission/").content.decode()
    assert client.get(f"/console/commission/{clerk.pk}/").status_code == 404


def test_the_pages_speak_english(client_for, hq_admin, booked):
    client = client_for(hq_admin)
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/commission/"})
    statement = client.get("/console/commission/").content.decode()
    assert "Monthly commission" in statement and "Download payroll CSV" in statement
    rules = client.get("/console/settings/commission/").content.decode()
    assert "A rule for the clerk beats a rule for the product category" in rules
    assert "Commission rules" in rules
    usage = client.get("/console/cost/").content.decode()
    assert "Message usage and cost" in usage
