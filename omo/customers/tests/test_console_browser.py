"""Customer console pages in a real Chromium: the merge-suggestion queue (merge → history → split)
and the customer 360 timeline with its filter."""

from __future__ import annotations

import re

import pytest

from omo.customers.models import Customer, CustomerMerge, MergeSuggestion
from omo.customers.tests.test_merge_console import open_suggestion
from omo.testing.browser import sign_in_console
from omo.tracking.tests.test_timeline import customer, shop_source, story  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_hq_merges_a_suggestion_sees_it_in_history_and_splits_it(desktop_page, brand, hq_admin):
    from playwright.sync_api import expect

    suggestion = open_suggestion(brand)
    Customer.objects.filter(pk=suggestion.customer_a_id).update(name="林美玲")
    Customer.objects.filter(pk=suggestion.customer_b_id).update(name="林美玲（LINE）")
    page = desktop_page
    sign_in_console(page, hq_admin)

    page.goto("/console/customers/merges/")
    row = page.locator("tbody tr").filter(has_text="x@x.tw")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("林美玲（LINE）")
    row.get_by_label("保留 B").check()
    row.get_by_role("button", name="合併", exact=True).click()

    expect(page.locator(".messages")).to_contain_text(
        f"已合併顧客 #{suggestion.customer_a_id} 至 #{suggestion.customer_b_id}。"
    )
    expect(page.get_by_text("目前沒有待處理的合併建議。")).to_be_visible()
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "merged"

    page.get_by_role("link", name="合併紀錄").click()
    expect(page).to_have_url(re.compile(r"/console/customers/merges/history/$"))
    record = page.locator("tbody tr").filter(has_text=f"#{suggestion.customer_a_id}")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("林美玲（LINE）")  # the survivor
    expect(record).to_contain_text("email: x@x.tw")
    expect(record).to_contain_text(f"總部依合併建議 #{suggestion.pk} 合併")

    record.get_by_role("button", name="拆分").click()
    expect(page.locator(".messages")).to_contain_text(
        f"已拆分：顧客 #{suggestion.customer_a_id} 恢復為獨立顧客。"
    )
    expect(page.locator("tbody tr").first).to_contain_text("已拆分")
    expect(page.get_by_role("button", name="拆分")).to_have_count(0)
    merge = CustomerMerge.objects.get(brand=brand)
    assert merge.split_at is not None and merge.split_by == hq_admin
    assert Customer.objects.get(pk=suggestion.customer_a_id).merged_into_id is None


def test_the_timeline_filters_by_kind_and_names_a_bad_date(desktop_page, story, hq_admin):  # noqa: F811
    from playwright.sync_api import expect

    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto(f"/console/customers/{story.pk}/")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("tbody tr")).to_have_count(9)
    expect(timeline.locator("tbody tr").first).to_contain_text("生日禮")  # newest first

    timeline.get_by_label("類型").select_option(label="訂單")
    timeline.get_by_role("button", name="篩選").click()
    expect(page).to_have_url(re.compile(r"group=orders"))
    rows = page.get_by_test_id("timeline").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("完成訂單 W-0099")
    expect(page.get_by_test_id("timeline")).not_to_contain_text("請問有 L 號嗎？")

    # Dates: 4–6 Nov (Taipei), every kind.
    timeline = page.get_by_test_id("timeline")
    timeline.get_by_label("類型").select_option(value="")
    timeline.get_by_label("起日").fill("2026-11-04")
    timeline.get_by_label("迄日").fill("2026-11-06")
    timeline.get_by_role("button", name="篩選").click()
    events = page.get_by_test_id("timeline").locator("tbody tr")
    expect(events).to_have_count(3)
    assert [row.get_attribute("data-timeline-event") for row in events.all()] == [
        "Product Clicked",
        "Message Received",
        "Order Completed",
    ]

    page.get_by_role("link", name="清除").click()
    expect(page.get_by_test_id("timeline").locator("tbody tr")).to_have_count(9)

    page.goto(f"/console/customers/{story.pk}/?until=2026-11-01&since=2026-11-05#timeline")
    expect(page.get_by_test_id("timeline-error")).to_contain_text("until:")
