"""Checkout on a phone (390×844) in a real Chromium: the district list follows the county and fills
the postal code, the e-invoice fields follow the choice, and every wrong field is shown at once
with the first one focused, before anything is sent and again from the server."""

from __future__ import annotations

import re

import pytest

from omo.commerce.models import Order
from omo.shop.tests.test_shop_views import build_catalogue

pytestmark = pytest.mark.browser


def open_checkout(page, catalogue) -> None:
    page.goto("/shop/herb/p/organic-tee/")
    page.get_by_text("黑 / M", exact=True).click()
    page.locator("[data-add-button]").click()
    page.wait_for_url(re.compile(r"/shop/herb/cart/$"))
    page.goto("/shop/herb/checkout/")


def test_address_pickers_invoice_fields_and_all_errors_at_once(
    browser_page, brand, warehouse, store, other_store
):
    from playwright.sync_api import expect

    catalogue = build_catalogue(brand, warehouse, store, other_store)
    page = browser_page
    open_checkout(page, catalogue)

    # The district list holds only the chosen county's districts; the postal code follows.
    county, district, postal = (
        page.locator("#id_city"),
        page.locator("#id_district"),
        page.locator("#id_postal_code"),
    )
    county.select_option("臺北市")
    assert district.locator("option").count() == 13  # the prompt and Taipei's 12 districts
    district.select_option("大安區")
    expect(postal).to_have_value("106")
    county.select_option("高雄市")
    assert district.locator("option").count() == 39
    expect(district).to_have_value("")  # 大安區 is not in Kaohsiung (Taichung has one too)
    expect(postal).to_have_value("")
    district.select_option("那瑪夏區")
    expect(postal).to_have_value("849")

    # E-invoice: the fields of the chosen kind only.
    expect(page.locator("#id_invoice_tax_id")).to_be_hidden()
    page.get_by_label("公司統一編號").check()
    expect(page.locator("#id_invoice_tax_id")).to_be_visible()
    expect(page.locator("#id_invoice_carrier")).to_be_hidden()

    # Submit with several mistakes: all shown at once, nothing sent, the first one focused.
    page.locator("#id_invoice_tax_id").fill("12345678")
    page.locator("#id_line1").fill("")
    page.get_by_role("button", name="確認下單").click()
    errors = page.locator(".field.has-error")
    expect(errors).to_have_count(5)  # name, phone, address, business number, company name
    expect(page.locator("#id_invoice_tax_id-error")).to_have_text("統一編號為 8 碼數字，請再確認一次。")
    expect(page.get_by_test_id("form-errors")).to_contain_text("有 5 個欄位需要修正。")
    expect(page.locator("#id_name")).to_be_focused()
    assert Order.objects.count() == 0

    # Fixed: a valid number (with a 7 in 7th place) and the rest.
    page.locator("#id_name").fill("林小美")
    page.locator("#id_phone").fill("0912-345-678")
    page.locator("#id_line1").fill("和平路 1 號")
    page.locator("#id_invoice_tax_id").fill("10458575")
    page.locator("#id_invoice_company").fill("範例股份有限公司")
    page.get_by_role("button", name="確認下單").click()
    expect(page.get_by_role("heading", name="感謝您的訂購！")).to_be_visible()
    order = Order.objects.get()
    assert order.shipping_address == {
        "postal_code": "849",
        "city": "高雄市",
        "district": "那瑪夏區",
        "line1": "和平路 1 號",
    }
    assert (order.invoice_kind, order.invoice_tax_id) == ("company", "10458575")


def test_server_errors_focus_the_first_invalid_field(browser_page, brand, warehouse, store, other_store):
    from playwright.sync_api import expect

    catalogue = build_catalogue(brand, warehouse, store, other_store)
    page = browser_page
    open_checkout(page, catalogue)
    page.locator("#id_name").fill("林小美")
    page.locator("#id_phone").fill("0912-345-678")
    page.locator("#id_city").select_option("臺北市")
    page.locator("#id_district").select_option("信義區")
    page.locator("#id_line1").fill("松高路 1 號")
    page.get_by_label("捐贈發票").check()
    page.locator("#id_invoice_donation_code").fill("8585")
    # The page's own check passes; the server refuses what it alone knows (a postal code typed over).
    page.locator("#id_postal_code").fill("11049")
    page.evaluate(
        "document.querySelector('#id_email').value = 'not-an-email';"
        "document.querySelector('[data-checkout]').submit()"
    )
    expect(page.locator("#id_email")).to_be_focused()
    expect(page.locator("#id_email-error")).to_have_text("Email 格式不正確。")
    expect(page.locator("#id_invoice_donation_code")).to_have_value("8585")  # what was typed stays
    expect(page.locator("#id_district")).to_have_value("信義區")
    assert Order.objects.count() == 0
