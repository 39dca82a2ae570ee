"""Browser-test fixtures: a real Chromium (Debian's, driven by Playwright) against live_server.

Registered for the whole suite from the root conftest (`pytest_plugins`). Use it in tests marked
`@pytest.mark.browser`:

    @pytest.mark.browser
    def test_something(browser_page, live_url):
        browser_page.goto(live_url + "/shop/")

We never download a browser (`playwright install`); we drive the system one at CHROMIUM_PATH.
When it is missing the test is skipped with the reason, or fails when OMO_REQUIRE_BROWSER=1 (CI),
so a missing browser can never pass silently where browsers are required.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

CHROMIUM_PATH = os.environ.get("OMO_CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A mid-size phone (iPhone 12-15 class): the shop and the clerk app are used on phones first.
PHONE_VIEWPORT = {"width": 390, "height": 844}
# The console is used at HQ on a laptop.
DESKTOP_VIEWPORT = {"width": 1366, "height": 900}
STAFF_PASSWORD = "pass-1234"  # what omo.testing.factories.make_user sets
DEFAULT_TIMEOUT_MS = 15_000


def _require_browser() -> None:
    if Path(CHROMIUM_PATH).exists():
        return
    reason = f"Chromium not found at {CHROMIUM_PATH} (set OMO_CHROMIUM_PATH or install Debian's chromium)"
    if os.environ.get("OMO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"OMO_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def live_url(transactional_db, live_server) -> str:
    """Base URL of the test server (no trailing slash), e.g. http://localhost:41234.

    live_server answers from another thread, so it sees only committed rows: hence transactional_db
    (asked for first, so the test database exists before the session-wide server starts)."""
    return live_server.url.rstrip("/")


@pytest.fixture
def chromium(monkeypatch) -> Iterator[Any]:
    """A headless Chromium for one test.

    Function-scoped on purpose: Playwright's sync API runs an event loop, and while one is running
    Django refuses ORM calls from the test thread (SynchronousOnlyOperation). We allow them only for
    the lifetime of this browser, so the rest of the suite keeps Django's async-safety check.
    """
    _require_browser()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # While Playwright's loop runs, Django hands the test its database connections per
            # context (asgiref.local), not the thread's usual ones, and nobody else closes those;
            # a PostgreSQL test database could then not be dropped at the end of the run.
            connections.close_all()
            browser.close()


@pytest.fixture
def browser_context(chromium, live_url: str) -> Iterator[Any]:
    """A fresh phone-sized context in Traditional Chinese whose relative URLs go to live_server."""
    context = chromium.new_context(
        base_url=live_url,
        viewport=PHONE_VIEWPORT,
        locale="zh-TW",
        timezone_id="Asia/Taipei",
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def browser_page(browser_context) -> Iterator[Any]:
    """A page in that context; `page.goto("/shop/")` opens live_server's /shop/."""
    page = browser_context.new_page()
    yield page
    page.close()


@pytest.fixture
def desktop_page(chromium, live_url: str) -> Iterator[Any]:
    """A laptop-sized page in Traditional Chinese (the console), relative URLs to live_server."""
    context = chromium.new_context(
        base_url=live_url, viewport=DESKTOP_VIEWPORT, locale="zh-TW", timezone_id="Asia/Taipei"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def sign_in_console(page: Any, user: Any, password: str = STAFF_PASSWORD) -> None:
    """Sign in to the console through its form and land on the dashboard."""
    page.goto("/console/")
    assert "/console/login/" in page.url
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit].btn-primary")
    page.wait_for_url("**/console/")


def check_out_home_delivery(page: Any, name: str = "林小姐", phone: str = "0912-345-678") -> None:
    """From the cart to the thank-you page: name, phone, home delivery to 臺北市信義區, place it."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="前往結帳").click()
    page.get_by_label("姓名").fill(name)
    page.locator("#id_phone").fill(phone)
    page.get_by_label("宅配到府").check()
    page.get_by_label("縣市").select_option("臺北市")
    page.get_by_label("鄉鎮市區").select_option("信義區")
    page.get_by_label("地址", exact=True).fill("松高路 1 號")
    page.get_by_role("button", name="確認下單").click()
    expect(page.get_by_role("heading", name="感謝您的訂購！")).to_be_visible()
