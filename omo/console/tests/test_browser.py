"""The console in a real Chromium: sign in, read the dashboard, switch language, manage an API key."""

from __future__ import annotations

import re

import pytest

from omo.core.models import ApiKey, AuditLog
from omo.testing.browser import sign_in_console as sign_in

pytestmark = pytest.mark.browser


def test_dashboard_language_and_api_key_flow(desktop_page, seeded_sales, hq_admin, brand):
    page = desktop_page
    sign_in(page, hq_admin)
    assert page.text_content("[data-kpi=net_sales]") == "NT$2,550"
    assert page.locator(".chart svg").count() == 3
    page.locator("[data-chart=products] .tooltip-trigger").last.hover()  # the top bar: best seller
    assert "NT$1,800" in page.text_content(".chart-tooltip.shown")

    page.click("button[value=en]")
    page.wait_for_selector("h1:text('Dashboard')")
    assert page.text_content(".kpi-label >> nth=0") == "Net sales"

    page.click("nav a:text('API keys')")
    page.click("a:text('Create key')")
    page.fill("input[name=name]", "POS")
    page.click("form button[type=submit].btn-primary")
    secret = page.text_content("#api-key-secret")
    assert re.fullmatch(r"omo_[0-9a-f]{12}_[\w-]+", secret)
    page.click("button[data-copy]")
    page.wait_for_selector(".copied")

    page.click("a:text('I have saved it, back to the list')")
    assert secret not in page.content()
    page.click("button:text('Revoke')")
    page.wait_for_selector(".messages li")
    assert ApiKey.objects.get(brand=brand, name="POS").revoked_at is not None
    assert AuditLog.objects.filter(brand=brand, action="api_key.revoked", actor_user=hq_admin).count() == 1


def test_phone_menu_opens_the_sidebar(browser_page, hq_admin, brand):
    page = browser_page
    sign_in(page, hq_admin)
    sidebar = page.locator(".sidebar")
    assert sidebar.bounding_box()["x"] < 0  # off-canvas on a phone
    page.click("label.menu-button")
    page.wait_for_function("document.querySelector('.sidebar').getBoundingClientRect().x >= 0")
    page.click("nav a[href='/console/orders/']")
    page.wait_for_url("**/console/orders/")
