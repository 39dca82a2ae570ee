"""設定 → 分潤規則 and 總覽 → 分潤月結 in a real Chromium: an admin adds a store rate, is told by name
why an overlapping rule is refused, ends the rate mid-month and adds the next; the statement page
moves between months and offers the payroll CSV."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from omo.attribution.models import CommissionRule
from omo.testing.browser import sign_in_console

pytestmark = pytest.mark.browser


def test_admin_changes_a_store_rate_mid_month_and_reads_the_statement(desktop_page, brand, hq_admin, store):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto("/console/settings/commission/")
    expect(page.get_by_text("指定店員的規則優先於指定商品分類的規則", exact=False)).to_be_visible()

    form = page.get_by_test_id("commission-rule-form")
    form.get_by_label("分潤比例（%）").fill("5")
    form.get_by_label("生效日").fill("2026-11-01")
    form.get_by_label("門市").select_option(label="台北信義店")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("門市 台北信義店：銷售額的 5%，2026-11-01 起，未設結束日。")).to_be_visible()

    form = page.get_by_test_id("commission-rule-form")
    form.get_by_label("分潤比例（%）").fill("8")
    form.get_by_label("生效日").fill("2026-11-16")
    form.get_by_label("門市").select_option(label="台北信義店")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text(re.compile("同一範圍已有規則"))).to_be_visible()
    assert CommissionRule.objects.count() == 1

    rule = CommissionRule.objects.get()
    page.goto(f"/console/settings/commission/{rule.pk}/")
    page.get_by_label("結束日（含）").fill("2026-11-15")
    page.get_by_test_id("commission-rule-form").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/settings/commission/$"))
    form = page.get_by_test_id("commission-rule-form")
    form.get_by_label("分潤比例（%）").fill("8")
    form.get_by_label("生效日").fill("2026-11-16")
    form.get_by_label("門市").select_option(label="台北信義店")
    form.locator("button[type=submit]").click()
    expect(page.get_by_text("門市 台北信義店：銷售額的 8%，2026-11-16 起，未設結束日。")).to_be_visible()
    assert sorted(CommissionRule.objects.values_list("rate_bp", "ends_on")) == [
        (500, dt.date(2026, 11, 15)),
        (800, None),
    ]

    page.get_by_role("link", name="分潤月結", exact=True).click()
    expect(page.get_by_test_id("payroll-csv")).to_be_visible()
    page.get_by_test_id("month-picker").locator("input[name=month]").fill("2026-10")
    page.get_by_test_id("month-picker").locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"month=2026-10"))
    expect(page.locator(".page-head p")).to_contain_text("2026/10")
    with page.expect_download() as download:
        page.get_by_test_id("payroll-csv").click()
    assert download.value.suggested_filename == "payroll-2026-10.csv"
