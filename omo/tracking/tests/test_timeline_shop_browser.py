"""The shop tracks itself in a real Chromium: browse, add to cart, check out, and the browsing is on
the buyer's timeline next to the order the server recorded."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from omo.commerce.models import Order
from omo.shop.tests.test_shop_views import build_catalogue
from omo.tracking import timeline
from omo.tracking.models import TrackedEvent

pytestmark = pytest.mark.browser

SHOP_EVENTS = ["Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed"]


def wait_for(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_shop_browsing_lands_on_the_buyers_timeline(
    browser_page, brand, warehouse, store, other_store, hq_admin
):
    from playwright.sync_api import expect

    build_catalogue(brand, warehouse, store, other_store)
    page = browser_page
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/v1/batch") else None)

    page.goto("/shop/herb/p/organic-tee/")
    page.get_by_text("黑 / M", exact=True).click()
    page.locator("[data-add-button]").click()
    expect(page).to_have_url(re.compile(r"/shop/herb/cart/$"))
    page.get_by_role("link", name="前往結帳").click()
    page.get_by_label("姓名").fill("林小美")
    page.locator("#id_phone").fill("0912-345-678")
    page.locator("#id_email").fill("mei@example.com")
    page.get_by_label("宅配到府").check()
    page.get_by_label("縣市").select_option("臺北市")
    page.get_by_label("鄉鎮市區").select_option("信義區")
    page.get_by_label("地址", exact=True).fill("松高路 1 號")
    page.get_by_role("button", name="確認下單").click()
    expect(page.get_by_role("heading", name="感謝您的訂購！")).to_be_visible()

    # Hand over what the last page queued now rather than after the batching delay.
    page.evaluate("window.omoTrack && window.omoTrack.flush()")
    for _ in range(75):  # up to 15 s, letting Playwright see the requests
        if sent:
            break
        page.wait_for_timeout(200)
    # One first-party anonymous id for the whole visit, sent with the shop's write key.
    cookie = next(c for c in page.context.cookies() if c["name"] == "ajs_anonymous_id")
    visitor = cookie["value"]
    assert sent and all(r.post_data_json["writeKey"].startswith("wk_") for r in sent)
    order = Order.objects.get(brand=brand)

    def browser_events():
        names = set(
            TrackedEvent.objects.filter(
                brand=brand, anonymous_id=visitor, customer=order.customer_id
            ).values_list("event", flat=True)
        )
        return names if set(SHOP_EVENTS) <= names else None

    names = wait_for(browser_events, seconds=30)
    assert names is not None, "the shop's events did not arrive"
    added = TrackedEvent.objects.get(brand=brand, anonymous_id=visitor, event="Product Added")
    assert added.source_id is not None
    assert added.properties["sku"] == "TEE-BLK-M" and added.properties["quantity"] == 1
    assert added.properties["price"] == 890.0 and added.properties["cart_id"]
    completed = TrackedEvent.objects.get(brand=brand, anonymous_id=visitor, event="Order Completed")
    assert completed.message_id == f"shop:order:{order.pk}:completed"
    assert completed.properties["order_id"] == str(order.pk) and completed.properties["total"] == 990.0
    assert TrackedEvent.objects.filter(brand=brand, anonymous_id=visitor, type="page").count() >= 4

    # The buyer's timeline: the server's order once, and the browsing before it.
    entries = timeline.timeline_page(order.customer, limit=100).entries
    events = [e.event for e in entries]
    assert events.count("Order Completed") == 1
    assert {"Product Viewed", "Product Added", "Cart Viewed", "Checkout Started"} <= set(events)
    assert events.index("Order Completed") < events.index("Checkout Started") < events.index("Product Added")

    # And on the console customer page.
    client = Client()
    client.force_login(hq_admin)
    body = client.get(f"/console/customers/{order.customer_id}/").content.decode()
    assert f"完成訂單 {order.name}" in body and "加入購物車：有機棉T恤（黑 / M） × 1" in body
