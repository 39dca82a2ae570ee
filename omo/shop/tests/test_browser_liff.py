"""One customer through the whole loop, in a real Chromium: a customer bound to a clerk on LINE taps
a product card, is signed in to the shop with LINE through the LIFF page (the phone simulator plays
LINE and its LIFF login), checks out, and the console and the clerk app show ONE customer with that
order, credited to the clerk; the LINE stand-in delivered the order confirmation to the chat."""

from __future__ import annotations

import re

import pytest

from omo.attribution.models import Attribution
from omo.clerk.tests import test_browser_loop as loop
from omo.commerce.models import Order
from omo.customers.models import Customer, CustomerIdentity, MergeSuggestion
from omo.testing import factories as f
from omo.testing.browser import check_out_home_delivery

pytestmark = pytest.mark.browser

# The ASGI server and the loop worker of the OMO2C loop test (fixtures).
asgi_url = loop.asgi_url
loop_worker = loop.loop_worker

LIFF_ID = "2000000001-AbcdEfgh"


def test_a_bound_customer_signs_in_through_liff_checks_out_and_stays_one_customer(
    chromium,
    asgi_url,
    settings,
    line_standin,
    line_inbox,
    loop_worker,
    brand,
    store,
    warehouse,
    clerk,
    hq_admin,
):
    from playwright.sync_api import expect

    from omo.testing.browser import DEFAULT_TIMEOUT_MS, DESKTOP_VIEWPORT, PHONE_VIEWPORT

    settings.OMO_LINE_STANDIN_URL = line_standin.url
    line_inbox.config = {**line_inbox.config, "liff_id": LIFF_ID}
    line_inbox.save()
    clerk.display_name = "王小美"
    clerk.save()
    product = f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 99000)])
    f.set_stock(product.variants.get(), warehouse, 5)

    def new_page(viewport):
        context = chromium.new_context(
            base_url=asgi_url, viewport=viewport, locale="zh-TW", timezone_id="Asia/Taipei"
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        return context, context.new_page()

    clerk_context, app = new_page(PHONE_VIEWPORT)
    phone_context, phone = new_page(PHONE_VIEWPORT)
    console_context, console = new_page(DESKTOP_VIEWPORT)
    try:
        app.goto("/clerk/")
        app.locator("input[name=username]").fill(clerk.username)
        app.locator("input[name=password]").fill("pass-1234")
        app.get_by_role("button", name="登入").click()
        expect(app.get_by_test_id("signed-in-as")).to_have_text("王小美")
        app.goto("/clerk/qr/")
        my_link = app.get_by_test_id("my-link").input_value()

        # The customer is bound to the clerk on LINE.
        phone.goto(f"/dev/simulator/?inbox={line_inbox.pk}")
        phone.get_by_test_id("sim-link").fill(my_link)
        phone.get_by_test_id("sim-open").click()
        expect(phone.get_by_test_id("sim-status")).to_have_attribute("data-state", "bound")

        # The clerk sends a product card; on LINE with LIFF it opens the shop through LIFF.
        app.goto("/clerk/")
        row = app.get_by_test_id("conversation-row")
        expect(row).to_have_count(1)
        row.locator("a").click()
        app.get_by_test_id("open-picker").click()
        app.get_by_test_id("picker-search").fill("有機棉")
        app.get_by_test_id("pick-product").first.check()
        app.get_by_test_id("send-cards").click()
        expect(app.locator("[data-kind=flex] [data-testid=delivery]")).to_have_text("已送出")
        card = phone.get_by_test_id("sim-card")
        expect(card).to_have_count(1)
        (flex,) = [m for d in line_standin.delivered() for m in d.messages if m["type"] == "flex"]
        uri = flex["contents"]["contents"][0]["footer"]["contents"][0]["action"]["uri"]
        assert uri.startswith(f"https://liff.line.me/{LIFF_ID}/shop?r=")

        # The customer taps it: LIFF signs them in with LINE, then the product page opens.
        phone.get_by_test_id("sim-card-link").click()
        expect(phone).to_have_url(re.compile(rf"/shop/herb/p/{product.handle}/\?ref="))
        verified = [c for c in line_standin.calls("/oauth2/v2.1/verify") if c["status"] == 200]
        assert len(verified) == 1
        phone.locator("[data-add-button]").click()
        expect(phone).to_have_url(re.compile(r"/shop/herb/cart/$"))
        check_out_home_delivery(phone)

        # ONE customer: the LINE customer holds the order and the phone typed; no suggestion.
        order = Order.objects.get(brand=brand)
        customer = Customer.objects.get(brand=brand)
        assert order.customer_id == customer.pk
        assert CustomerIdentity.objects.get(brand=brand, kind="line").customer_id == customer.pk
        assert CustomerIdentity.objects.get(brand=brand, kind="phone").customer_id == customer.pk
        assert not MergeSuggestion.objects.exists()
        attribution = Attribution.objects.get(order=order)
        assert (attribution.rule, attribution.clerk_id) == ("link_click", clerk.pk)

        # The confirmation reached the customer's LINE chat.
        phone.goto(f"/dev/simulator/?inbox={line_inbox.pk}")
        expect(phone.get_by_test_id("sim-received").filter(has_text="感謝您的訂購")).to_have_count(1)
        expect(phone.get_by_test_id("sim-received").filter(has_text=order.name)).to_have_count(1)

        # The console: one customer, and on their page the order.
        console.goto("/console/")
        console.fill("input[name=username]", hq_admin.username)
        console.fill("input[name=password]", "pass-1234")
        console.click("form button[type=submit].btn-primary")
        console.wait_for_url("**/console/")
        console.goto("/console/customers/")
        expect(console.locator("tbody tr")).to_have_count(1)
        console.goto(f"/console/customers/{customer.pk}/")
        expect(console.get_by_role("link", name=order.name, exact=True)).to_be_visible()

        # The clerk app: the sale is the clerk's.
        app.goto("/clerk/")
        app.get_by_test_id("tab-sales").click()
        sale = app.get_by_test_id("sale").filter(has_text=order.name)
        expect(sale).to_have_count(1)
        expect(sale.get_by_test_id("attribution-reason")).to_contain_text("點擊王小美傳送的商品卡片")
    finally:
        clerk_context.close()
        phone_context.close()
        console_context.close()
