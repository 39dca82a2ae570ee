"""Settings → 平台帳號 in a real Chromium: a wrong token is named on the form and nothing is saved;
the right one connects the LINE official account and the page says where the webhook URL goes."""

from __future__ import annotations

import re

import pytest

from omo.inbox.models import Inbox
from omo.testing.browser import sign_in_console

pytestmark = pytest.mark.browser


def test_admin_connects_the_line_official_account(
    desktop_page, live_url, brand, hq_admin, line_standin, settings
):
    from playwright.sync_api import expect

    settings.BASE_URL = "http://127.0.0.1:8000"
    channel = line_standin.add_channel(display_name="草本生活", basic_id="@herbshop")
    page = desktop_page
    sign_in_console(page, hq_admin)
    page.goto("/console/settings/platforms/")
    expect(page.get_by_text("尚未連線任何平台帳號。")).to_be_visible()
    page.get_by_role("link", name="連線 LINE 官方帳號").click()

    page.get_by_label("Channel ID").fill(channel.channel_id)
    page.get_by_label("Channel secret").fill(channel.channel_secret)
    page.get_by_label("Channel access token").fill("not-the-token")
    page.locator("form button[type=submit].btn-primary").click()
    expect(page.get_by_text(re.compile("LINE refused this channel access token"))).to_be_visible()
    assert not Inbox.objects.exists()

    page.get_by_label("Channel secret").fill(channel.channel_secret)
    page.get_by_label("Channel access token").fill(channel.access_token)
    page.locator("form button[type=submit].btn-primary").click()

    inbox = Inbox.objects.get(brand=brand)
    expect(page).to_have_url(re.compile(rf"/console/settings/platforms/{inbox.pk}/$"))
    expect(page.locator("#line-webhook-url")).to_have_text(f"http://127.0.0.1:8000/webhooks/line/{inbox.pk}")
    expect(page.get_by_test_id("webhook-not-https")).to_be_visible()
    expect(page.get_by_text("已連線 LINE 官方帳號 草本生活（@herbshop）。")).to_be_visible()
    assert channel.access_token not in page.content() and channel.channel_secret not in page.content()
