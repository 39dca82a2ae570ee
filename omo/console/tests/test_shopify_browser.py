"""Settings → Shopify in a real Chromium: connect a store, see its webhook URL and sync schedule; the
app is uninstalled (a real signed delivery) and HQ reinstalls it with a new token."""

from __future__ import annotations

import re

import pytest

from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import processing
from omo.connectors.shopify.tests.conftest import (  # noqa: F401  (fixture)
    FIXTURES,
    SECRET,
    TOKEN,
    fast_password_hashing,
)
from omo.core.models import AuditLog
from omo.devtools.shopify_webhooks import deliver
from omo.testing.browser import sign_in_console

pytestmark = pytest.mark.browser


def test_admin_connects_a_store_and_sets_the_sync_schedule(desktop_page, live_url, brand, hq_admin):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto("/console/settings/shopify/")
    expect(page.get_by_text("尚未連線任何 Shopify 商店。")).to_be_visible()
    page.get_by_role("link", name="新增連線").click()
    page.get_by_label("名稱").fill("官方網店")
    page.get_by_label("商店網域").fill("https://Herb.myshopify.com/")
    page.get_by_label("Admin API 存取權杖").fill(TOKEN)
    page.get_by_label("Webhook 簽章金鑰").fill(SECRET)
    page.get_by_label("自動同步商品間隔（小時）").fill("200")
    page.locator("form button[type=submit].btn-primary").click()

    # More than a week: the browser keeps the form and marks the field (the server refuses it too).
    interval = page.get_by_label("自動同步商品間隔（小時）")
    assert interval.evaluate("field => field.validity.rangeOverflow") is True
    expect(page).to_have_url(re.compile(r"/console/settings/shopify/new/$"))
    assert not ShopifyConnection.objects.exists()
    interval.fill("6")
    page.locator("form button[type=submit].btn-primary").click()

    connection = ShopifyConnection.objects.get(brand=brand)
    expect(page).to_have_url(re.compile(rf"/console/settings/shopify/{connection.pk}/$"))
    expect(page.locator("#shopify-webhook-url")).to_have_text(
        re.compile(rf"/webhooks/shopify/{connection.pk}$")
    )
    expect(page.locator("#shopify-sync-status")).to_have_text("尚未同步")
    expect(page.locator("#shopify-sync-schedule")).to_contain_text("每 6 小時")
    assert (connection.shop_domain, connection.sync_interval_hours) == ("herb.myshopify.com", 6)
    assert TOKEN not in page.content() and SECRET not in page.content()


def test_an_uninstall_shows_plainly_and_a_new_token_reinstalls(desktop_page, live_url, brand, hq_admin):
    from playwright.sync_api import expect

    connection = ShopifyConnection.objects.create(
        brand=brand,
        name="官方網店",
        shop_domain="herb.myshopify.com",
        secrets={"access_token": TOKEN, "webhook_secret": SECRET},
    )
    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto(f"/console/settings/shopify/{connection.pk}/")
    expect(page.get_by_test_id("shopify-uninstalled")).to_have_count(0)
    expect(page.get_by_role("button", name="同步商品")).to_be_visible()

    # Shopify tells us the store removed the app (signed exactly like Shopify, over HTTP).
    status, answer = deliver(
        f"{live_url}/webhooks/shopify/{connection.pk}",
        SECRET,
        (FIXTURES / "app_uninstalled.json").read_bytes(),
        topic="app/uninstalled",
        shop_domain="herb.myshopify.com",
        triggered_at="2025-04-01T01:02:03Z",
    )
    assert (status, answer) == (200, {"received": True, "duplicate": False})
    processing.process_pending(connection)  # what the worker does

    page.reload()
    notice = page.get_by_test_id("shopify-uninstalled")
    expect(notice).to_contain_text("應用程式已從商店解除安裝")
    expect(notice).to_contain_text("2025/04/01 09:02")
    expect(page.locator("#shopify-sync-schedule")).to_have_text("已停止（應用程式已解除安裝）")
    expect(page.get_by_role("button", name="同步商品")).to_have_count(0)
    expect(page.locator("tr").filter(has_text="app/uninstalled")).to_contain_text("已處理")

    # Ticking 啟用 alone is refused on the token field.
    page.get_by_label("啟用").check()
    page.get_by_role("button", name="儲存").click()
    expect(page.locator(".errorlist").filter(has_text="enter its new access token")).to_be_visible()

    page.get_by_label("Admin API 存取權杖").fill("shpat_reinstalled_0002")
    page.get_by_role("button", name="儲存").click()
    expect(page.get_by_text("已儲存 Shopify 設定。")).to_be_visible()
    expect(page.get_by_test_id("shopify-uninstalled")).to_have_count(0)
    expect(page.get_by_role("button", name="同步商品")).to_be_visible()
    connection.refresh_from_db()
    assert (connection.is_active, connection.uninstalled_at) == (True, None)
    assert AuditLog.objects.filter(action="shopify.reinstalled", actor_user=hq_admin).count() == 1
