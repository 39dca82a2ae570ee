"""Settings → 平台帳號 in the console: connect a LINE official account (against the stand-in),
manage it; HQ admins only, brand-scoped, secrets never shown, errors named on the form."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from omo.core.models import AuditLog
from omo.inbox.models import Inbox, WebhookReceipt
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def new_channel(line_standin: Any) -> Any:
    return line_standin.add_channel(display_name="草本生活", basic_id="@herbshop")


@pytest.fixture
def line_account(brand: Any, new_channel: Any) -> Inbox:
    return Inbox.objects.create(
        brand=brand,
        platform="line",
        name="草本 LINE",
        external_id=new_channel.channel_id,
        handle="@herbshop",
        bot_user_id=new_channel.bot_user_id,
        secrets={"channel_secret": new_channel.channel_secret, "access_token": new_channel.access_token},
        config={"plan": {"included": 3000, "extra_price": 20}},
    )


def _form(channel: Any, **kw: Any) -> dict[str, Any]:
    return {
        "channel_id": channel.channel_id,
        "channel_secret": channel.channel_secret,
        "access_token": channel.access_token,
        "name": "",
        "login_channel_id": "",
        "liff_id": "",
        "plan_included": "3000",
        "plan_extra_price": "0.2",
        **kw,
    }


def pages(inbox: Inbox) -> list[tuple[str, str]]:
    return [
        ("get", reverse("console:platform_accounts")),
        ("get", reverse("console:platform_account_create")),
        ("post", reverse("console:platform_account_create")),
        ("get", reverse("console:platform_account_detail", args=[inbox.pk])),
        ("post", reverse("console:platform_account_detail", args=[inbox.pk])),
        ("post", reverse("console:platform_account_rotate", args=[inbox.pk])),
        ("post", reverse("console:platform_account_webhook", args=[inbox.pk])),
        ("post", reverse("console:platform_account_disconnect", args=[inbox.pk])),
        ("post", reverse("console:platform_account_reconnect", args=[inbox.pk])),
        ("post", reverse("console:platform_account_quarantine", args=[inbox.pk, "receipt", 1, "retry"])),
        ("post", reverse("console:platform_account_quarantine", args=[inbox.pk, "intake", 1, "discard"])),
    ]


def test_admin_connects_over_http_and_is_told_where_to_paste_the_url(brand, hq_admin, new_channel, settings):
    settings.BASE_URL = "http://127.0.0.1:8000"
    client = signed_in(hq_admin)

    response = client.post(reverse("console:platform_account_create"), _form(new_channel), follow=True)

    inbox = Inbox.objects.get()
    assert response.status_code == 200
    page = response.content.decode()
    assert "草本生活" in page and "@herbshop" in page
    assert f"http://127.0.0.1:8000/webhooks/line/{inbox.pk}" in page
    assert 'data-testid="webhook-not-https"' in page
    assert "只接受 HTTPS" in page
    assert new_channel.access_token not in page and new_channel.channel_secret not in page
    assert f"••••{new_channel.access_token[-4:]}" in page
    assert inbox.config["plan"] == {"included": 3000, "extra_price": 20}
    assert client.get(reverse("console:platform_accounts")).content.decode().count("草本生活") >= 1


def test_admin_connects_over_https_and_sees_the_webhook_test(brand, hq_admin, new_channel, settings):
    settings.BASE_URL = "https://127.0.0.1:9"  # LINE's test cannot connect there
    client = signed_in(hq_admin)

    response = client.post(reverse("console:platform_account_create"), _form(new_channel), follow=True)

    page = response.content.decode()
    assert "已在 LINE 設定 Webhook 網址，但 LINE 的連線測試失敗" in page
    assert "COULD_NOT_CONNECT" in page
    assert new_channel.webhook_endpoint.endswith(f"/webhooks/line/{Inbox.objects.get().pk}")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"channel_secret": "xyz"}, "channel_secret", "32 hexadecimal"),
        ({"channel_id": "abc"}, "channel_id", "digits only"),
        ({"plan_extra_price": "0.001"}, "plan_extra_price", "two decimals"),
        ({"access_token": ""}, "access_token", ""),
    ],
)
def test_form_errors_are_shown_and_nothing_saved(hq_admin, new_channel, change, field, words):
    response = signed_in(hq_admin).post(
        reverse("console:platform_account_create"), _form(new_channel, **change)
    )

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert words in " ".join(response.context["form"].errors[field])
    assert not Inbox.objects.exists()


def test_wrong_token_is_shown_on_the_form(hq_admin, new_channel, line_standin):
    line_standin.revoke_token(new_channel.access_token)

    response = signed_in(hq_admin).post(reverse("console:platform_account_create"), _form(new_channel))

    assert response.status_code == 400
    assert "401" in " ".join(response.context["form"].errors["access_token"])
    assert "LINE refused this channel access token" in response.content.decode()
    assert not Inbox.objects.exists()


def test_duplicate_channel_is_shown_on_the_form(hq_admin, new_channel, line_account):
    response = signed_in(hq_admin).post(reverse("console:platform_account_create"), _form(new_channel))

    assert response.status_code == 400
    assert "already connected" in " ".join(response.context["form"].errors["channel_id"])
    assert Inbox.objects.count() == 1


def test_settings_rotate_disconnect_reconnect(hq_admin, new_channel, line_account, line_standin):
    client = signed_in(hq_admin)
    detail = reverse("console:platform_account_detail", args=[line_account.pk])

    saved = client.post(
        detail,
        {
            "name": "草本官方",
            "login_channel_id": "2000000009",
            "liff_id": "2000000009-AbCdEfGh",
            "plan_included": "6000",
            "plan_extra_price": "0.15",
        },
    )
    assert saved.status_code == 302
    line_account.refresh_from_db()
    assert line_account.name == "草本官方"
    assert line_account.config["plan"] == {"included": 6000, "extra_price": 15}

    bad = client.post(
        reverse("console:platform_account_rotate", args=[line_account.pk]), {"access_token": "revoked"}
    )
    assert bad.status_code == 400
    assert "401" in " ".join(bad.context["rotate"].errors["access_token"])

    secret = "ab" * 16
    good = client.post(
        reverse("console:platform_account_rotate", args=[line_account.pk]), {"channel_secret": secret}
    )
    assert good.status_code == 302
    line_account.refresh_from_db()
    assert line_account.secrets["channel_secret"] == secret

    client.post(reverse("console:platform_account_disconnect", args=[line_account.pk]))
    line_account.refresh_from_db()
    assert line_account.is_active is False
    assert 'data-testid="inbox-disconnected"' in client.get(detail).content.decode()
    client.post(reverse("console:platform_account_reconnect", args=[line_account.pk]))
    line_account.refresh_from_db()
    assert line_account.is_active is True
    actions = set(AuditLog.objects.filter(target_id=str(line_account.pk)).values_list("action", flat=True))
    assert actions == {"inbox.updated", "inbox.line_rotated", "inbox.disconnected", "inbox.reconnected"}


def test_last_webhook_line(hq_admin, line_account):
    at = timezone.now()
    for n, status in enumerate(["processed", "failed"]):
        WebhookReceipt.objects.create(
            inbox=line_account, event_id=f"e{n}", event_type="message", payload={}, status=status
        )
    WebhookReceipt.objects.filter(inbox=line_account).update(received_at=at)

    page = signed_in(hq_admin).get(reverse("console:platform_account_detail", args=[line_account.pk]))

    text = page.content.decode()
    assert "處理失敗" in text
    assert "2 個事件" in text


@pytest.mark.parametrize("role", ["hq_agent", "store_manager", "clerk"])
def test_weaker_roles_are_refused_every_page(brand, store, line_account, new_channel, role):
    user = f.make_user(
        brand, f"u-{role}", role=role, store=store if role in ("store_manager", "clerk") else None
    )
    client = signed_in(user)
    for method, url in pages(line_account):
        response = getattr(client, method)(url, _form(new_channel) if method == "post" else None)
        assert response.status_code == 403, (role, url)
    line_account.refresh_from_db()
    assert line_account.is_active is True and line_account.name == "草本 LINE"
    assert Inbox.objects.count() == 1


def test_another_brands_admin_gets_404_and_changes_nothing(line_account, other_admin, new_channel):
    client = signed_in(other_admin)
    for method, url in pages(line_account)[3:]:
        response = getattr(client, method)(url, {"name": "stolen"} if method == "post" else None)
        assert response.status_code == 404, url
    listing = client.get(reverse("console:platform_accounts"))
    assert listing.status_code == 200 and "草本 LINE" not in listing.content.decode()
    line_account.refresh_from_db()
    assert line_account.is_active is True and line_account.name == "草本 LINE"
