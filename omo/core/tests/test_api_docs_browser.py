"""The API docs page renders every endpoint in a real Chromium, from local assets only."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_docs_page_renders_the_operations_without_errors(desktop_page, live_url):
    failed: list[str] = []
    desktop_page.on("requestfailed", lambda request: failed.append(request.url))
    desktop_page.on("pageerror", lambda error: failed.append(str(error)))
    desktop_page.goto(f"{live_url}/api/v1/docs")
    desktop_page.wait_for_selector(".opblock", timeout=20_000)
    assert desktop_page.locator(".opblock").count() > 50
    assert desktop_page.locator(".errors-wrapper").count() == 0  # Swagger UI lists schema errors here
    assert desktop_page.get_by_text("/api/v1/orders/batch", exact=True).count() >= 1
    assert failed == []
