"""Settings → Webhooks in a real Chromium: create an endpoint, see its signing secret once, send a
test event and read its delivery in the log."""

from __future__ import annotations

import re

import pytest

from omo.outgoing_webhooks import delivery, signing
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.testing.browser import sign_in_console

pytestmark = pytest.mark.browser


def test_create_an_endpoint_see_the_secret_once_and_read_the_delivery_log(
    desktop_page, brand, hq_admin, receiver
):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto("/console/settings/webhooks/")
    page.get_by_role("link", name="新增 Webhook").click()

    # A plain-http address outside development is refused on the field; tests allow 127.0.0.1.
    page.get_by_label("接收網址").fill(receiver.url)
    page.get_by_label("說明").fill("ERP 業績同步")
    page.get_by_label("訂單業績歸屬給店員").check()
    page.locator("form button[type=submit].btn-primary").click()

    expect(page.get_by_role("heading", name="Webhook 已建立")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("這是唯一一次顯示簽章金鑰")
    secret = page.locator("#webhook-secret").text_content()
    assert secret and len(secret) >= 32
    endpoint = WebhookEndpoint.objects.get(brand=brand)
    assert (endpoint.url, endpoint.topics) == (receiver.url, ["order.attributed"])

    page.get_by_role("link", name="我已保存，前往 Webhook 設定").click()
    expect(page).to_have_url(re.compile(rf"/console/settings/webhooks/{endpoint.pk}/$"))
    expect(page.get_by_text("尚無傳送紀錄。")).to_be_visible()
    assert secret not in page.content()
    page.goto("/console/settings/webhooks/")
    expect(page.get_by_text("ERP 業績同步")).to_be_visible()
    assert secret not in page.content()

    page.goto(f"/console/settings/webhooks/{endpoint.pk}/")
    page.get_by_role("button", name="傳送測試事件").click()
    expect(page.locator(".messages")).to_contain_text("已送出測試事件")
    row = page.locator("tbody tr").filter(has_text="webhook.test")
    expect(row).to_contain_text("等待傳送")

    # The worker sends it; the receiver can verify it with the secret shown once.
    test_event = WebhookDelivery.objects.get(endpoint=endpoint, topic="webhook.test")
    delivery.attempt(test_event.pk)
    [received] = receiver.requests
    assert signing.verify(
        secret,
        event_id=received.headers[signing.ID_HEADER],
        timestamp=received.headers[signing.TIMESTAMP_HEADER],
        body=received.body,
        header=received.headers[signing.SIGNATURE_HEADER],
    )

    page.reload()
    row = page.locator("tbody tr").filter(has_text="webhook.test")
    expect(row).to_contain_text("已送達")
    expect(row.locator("td").nth(2)).to_have_text("1")  # attempts
    expect(row.locator("td").nth(3)).to_have_text("200")  # response code
    expect(row.get_by_role("button", name="重送")).to_be_visible()
    row.get_by_role("link", name="webhook.test").click()
    expect(page).to_have_url(
        re.compile(rf"/console/settings/webhooks/{endpoint.pk}/deliveries/{test_event.pk}/$")
    )
    expect(page.locator("body")).to_contain_text(test_event.event_id)
