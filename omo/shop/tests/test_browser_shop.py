"""The shop end to end in a real Chromium: browse → product → cart → checkout → confirmation →
member page; HQ fulfils the order, the member page shows the points; the HQ console lists it."""

from __future__ import annotations

import re

import pytest

from omo.commerce import services
from omo.commerce.models import Order
from omo.core.audit import Actor
from omo.shop.tests.test_shop_views import build_catalogue
from omo.testing import factories as f

pytestmark = pytest.mark.browser


def test_shopper_buys_and_sees_the_order_and_points_on_the_member_page(
    browser_page, brand, warehouse, store, other_store, hq_admin
):
    from playwright.sync_api import expect

    catalogue = build_catalogue(brand, warehouse, store, other_store)
    page = browser_page

    # Browse: /shop/ goes straight into the only brand's shop.
    page.goto("/shop/")
    expect(page).to_have_url(re.compile(r"/shop/herb/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("全部商品")
    card = page.locator(".product-card", has_text="有機棉T恤")
    expect(card.locator("del")).to_contain_text("NT$1,200")
    expect(card.locator(".price-now")).to_contain_text("NT$890")
    card.get_by_role("link").click()

    # Product: live stock, and the picker switches it without a reload.
    expect(page).to_have_url(re.compile(r"/shop/herb/p/organic-tee/$"))
    online = page.locator("[data-online]")
    add_button = page.locator("[data-add-button]")
    expect(online).to_have_text("線上可出貨 5 件")
    expect(page.locator("[data-stores]")).to_contain_text("台北信義店")
    page.get_by_text("白 / M", exact=True).click()
    expect(online).to_have_text("線上暫無庫存")
    expect(page.locator("[data-stores]")).to_contain_text("高雄夢時代店")
    expect(add_button).to_have_text("加入購物車（門市取貨）")
    expect(page.locator("[data-pickup-note]")).to_be_visible()
    # Stock moves in the warehouse meanwhile; choosing a variant fetches stock.json again.
    f.set_stock(catalogue.black, warehouse, 4)
    page.get_by_text("黑 / M", exact=True).click()
    expect(online).to_have_text("線上可出貨 4 件")
    expect(add_button).to_have_text("加入購物車")
    expect(add_button).to_be_enabled()
    add_button.click()

    # Cart.
    expect(page).to_have_url(re.compile(r"/shop/herb/cart/$"))
    expect(page.locator("[data-cart-count]")).to_have_text("1")
    expect(page.locator("[data-total]")).to_have_text("NT$990")
    page.get_by_role("link", name="前往結帳").click()

    # Checkout: ship home, pay on delivery.
    expect(page.get_by_text("目前尚未串接線上刷卡").first).to_be_visible()
    page.get_by_label("姓名").fill("林小美")
    page.locator("#id_phone").fill("0912-345-678")
    page.locator("#id_email").fill("mei@example.com")  # its label's wording is shared project-wide
    page.get_by_label("宅配到府").check()
    page.get_by_label("縣市").select_option("臺北市")
    page.get_by_label("鄉鎮市區").select_option("信義區")
    expect(page.get_by_label("郵遞區號")).to_have_value("110")  # filled from the district
    page.get_by_label("地址", exact=True).fill("松高路 1 號")
    expect(page.get_by_label("貨到付款（宅配）")).to_be_checked()
    page.get_by_role("button", name="確認下單").click()

    # Confirmation.
    expect(page.get_by_role("heading", name="感謝您的訂購！")).to_be_visible()
    order = Order.objects.get(brand=brand)
    assert (order.fulfilment, order.payment_method, order.total) == ("ship", "cod", 99000)
    expect(page.locator("[data-order-number]")).to_have_text(order.name)
    expect(page.locator("[data-order-total]")).to_have_text("NT$990")

    # Member page lists the order; no points until it is fulfilled.
    page.locator("[data-member-link]").click()
    expect(page).to_have_url(re.compile(r"/shop/herb/member/[^/]+/$"))
    expect(page.locator(f'[data-order="{order.name}"]')).to_contain_text("官網商店")
    expect(page.locator(f'[data-order="{order.name}"]')).to_contain_text("NT$990")
    expect(page.locator("[data-points-balance]")).to_have_text("0")

    # HQ fulfils it (the console has no fulfil action yet, so through the service as HQ would).
    services.fulfil(order, actor=Actor(brand=brand, user=hq_admin))
    page.reload()
    expect(page.locator("[data-points-balance]")).to_have_text("8")  # NT$890 of goods, 1 point per NT$100
    expect(page.locator(".ledger")).to_contain_text("消費回饋")
    expect(page.locator(f'[data-order="{order.name}"]')).to_contain_text("已出貨 / 已取貨")

    # The order is in the HQ console's order list.
    page.goto("/console/login/")
    page.locator("input[name=username]").fill(hq_admin.username)
    page.locator("input[name=password]").fill("pass-1234")
    page.locator("form[action='/console/login/'] button[type=submit]").click()
    page.goto("/console/orders/")
    expect(page.get_by_role("link", name=order.name)).to_be_visible()


def test_english_switch_and_checkout_errors_in_the_browser(
    browser_page, brand, warehouse, store, other_store
):
    """The language toggle, and a server-side refusal shown next to its field with the input kept."""
    from playwright.sync_api import expect

    build_catalogue(brand, warehouse, store, other_store)
    page = browser_page
    page.goto("/shop/herb/p/organic-tee/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("[data-add-button]")).to_have_text("Add to cart")
    expect(page.locator("[data-online]")).to_have_text("5 available for delivery")
    expect(page.get_by_role("heading", level=1)).to_have_text("Organic Cotton Tee")
    page.get_by_role("button", name="中文").click()
    expect(page.locator("[data-add-button]")).to_have_text("加入購物車")

    page.locator("[data-add-button]").click()
    page.get_by_role("link", name="前往結帳").click()
    page.get_by_label("姓名").fill("林小美")
    page.locator("#id_phone").fill("0912")
    page.get_by_label("縣市").select_option("臺北市")
    page.get_by_label("鄉鎮市區").select_option("信義區")
    page.get_by_label("地址", exact=True).fill("松高路 1 號")
    page.get_by_role("button", name="確認下單").click()
    expect(page.locator("#id_phone-error")).to_have_text("請輸入有效的手機號碼，例如 0912-345-678。")
    expect(page.get_by_label("姓名")).to_have_value("林小美")
    expect(page.get_by_label("地址", exact=True)).to_have_value("松高路 1 號")
    assert Order.objects.count() == 0

    # Pick-up shows the store list and switches the payment to pay in store.
    page.get_by_label("門市取貨", exact=True).check()
    expect(page.get_by_label("選擇門市")).to_be_visible()
    expect(page.get_by_label("門市付款（門市取貨）")).to_be_checked()
    expect(page.get_by_label("縣市")).to_be_hidden()
