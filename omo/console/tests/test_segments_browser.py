"""The segment builder in a real Chromium: conditions from the catalogue, a live count and sample
while editing, then the saved segment's page and the why box."""

from __future__ import annotations

import re

import pytest

from omo.segments.models import Segment
from omo.testing import factories as f
from omo.testing.browser import sign_in_console

pytestmark = pytest.mark.browser


def test_hq_builds_a_segment_and_sees_the_live_count(desktop_page, brand, hq_admin):
    from playwright.sync_api import expect

    f.make_customer(brand, name="林貴賓", phone="+886912000401", tags=["VIP"])
    f.make_customer(
        brand, name="陳貴賓", phone="+886912000402", tags=["VIP", "團購"], email="chen@example.com"
    )
    f.make_customer(brand, name="王路人", phone="+886912000403")
    page = desktop_page
    sign_in_console(page, hq_admin)

    page.goto("/console/segments/")
    page.get_by_test_id("segment-new").click()
    expect(page).to_have_url(re.compile(r"/console/segments/new/$"))
    page.get_by_label("名稱").fill("VIP 貴賓")

    builder = page.get_by_test_id("segment-builder")
    builder.get_by_test_id("builder-add-condition").click()
    condition = builder.get_by_test_id("builder-condition").first
    condition.locator("select.builder-field").select_option("tag")
    condition.locator("select.builder-op").select_option("has")
    condition.locator(".builder-value").fill("VIP")

    preview = page.get_by_test_id("segment-preview")
    expect(preview.locator("[data-preview-count]")).to_have_text("2")
    expect(preview.locator("[data-preview-sample] li")).to_have_count(2)
    expect(preview).to_contain_text("陳貴賓")

    # A second condition in the same (all) group narrows the count while editing.
    builder.get_by_test_id("builder-add-condition").first.click()
    second = builder.get_by_test_id("builder-condition").nth(1)
    second.locator("select.builder-field").select_option("profile.has_email")
    second.locator("select.builder-op").select_option("eq")
    second.locator("select.builder-value").select_option("true")
    expect(preview.locator("[data-preview-count]")).to_have_text("1")

    # A bad value is named with its place in the tree.
    second.locator("select.builder-field").select_option("orders.count")
    second.locator(".builder-value").fill("-3")
    expect(preview.locator("[data-preview-error]")).to_contain_text("all[1]")
    second.get_by_role("button", name="移除").click()
    expect(preview.locator("[data-preview-count]")).to_have_text("2")

    page.get_by_test_id("segment-save").click()
    segment = Segment.objects.get(brand=brand)
    expect(page).to_have_url(re.compile(rf"/console/segments/{segment.pk}/$"))
    expect(page.get_by_test_id("segment-count")).to_contain_text("2 位顧客")
    expect(page.get_by_test_id("segment-members")).to_contain_text("林貴賓")
    assert segment.rule == {"all": [{"field": "tag", "op": "has", "value": "VIP"}]}

    page.get_by_label("顧客手機、姓名或會員編號").fill("王路人")
    page.get_by_test_id("why-form").get_by_role("button").click()
    expect(page.get_by_test_id("why-answer")).to_contain_text("不是成員")
    expect(page.get_by_test_id("why-answer")).to_contain_text("VIP")
