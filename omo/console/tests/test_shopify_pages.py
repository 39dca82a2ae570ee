"""Settings → Shopify in the console: HQ admins only, brand-scoped, secrets encrypted and never shown."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from omo.connectors.models import PrivacyRequest, ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify.tests.conftest import SECRET, TOKEN, fast_password_hashing  # noqa: F401  (fixture)
from omo.core.models import AuditLog
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def connection(brand) -> ShopifyConnection:
    return ShopifyConnection.objects.create(
        brand=brand,
        name="官方網店",
        shop_domain="herb.myshopify.com",
        secrets={"access_token": TOKEN, "webhook_secret": SECRET},
    )


@pytest.fixture
def privacy(connection):
    webhook = ShopifyWebhook.objects.create(
        brand=connection.brand,
        connection=connection,
        webhook_id="wh-p",
        topic="shop/redact",
        payload={},
        status="processed",
    )
    return PrivacyRequest.objects.create(
        brand=connection.brand, connection=connection, webhook=webhook, kind="shop/redact"
    )


def pages(connection, privacy) -> list[tuple[str, str]]:
    return [
        ("get", reverse("console:shopify")),
        ("get", reverse("console:shopify_create")),
        ("get", reverse("console:shopify_detail", args=[connection.pk])),
        ("post", reverse("console:shopify_detail", args=[connection.pk])),  # settings, reinstall
        ("post", reverse("console:shopify_sync", args=[connection.pk])),
        ("post", reverse("console:shopify_retry", args=[connection.pk])),
        ("post", reverse("console:shopify_privacy_resolve", args=[connection.pk, privacy.pk])),
    ]


@pytest.mark.parametrize("role", ["hq_agent", "store_manager", "clerk"])
def test_weaker_roles_are_refused_every_shopify_page(brand, store, connection, privacy, role):
    user = f.make_user(
        brand, f"u-{role}", role=role, store=store if role in ("store_manager", "clerk") else None
    )
    client = signed_in(user)
    for method, url in pages(connection, privacy):
        response = getattr(client, method)(url, {"outcome": "done"} if method == "post" else None)
        assert response.status_code == 403, (role, url)
    connection.refresh_from_db()
    privacy.refresh_from_db()
    assert connection.sync_status == "never" and privacy.status == "open"


def test_anonymous_is_sent_to_sign_in(client, connection, privacy):
    for method, url in pages(connection, privacy):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and reverse("console:login") in response["Location"]


def test_another_brands_admin_sees_404_and_changes_nothing(connection, privacy, other_admin):
    client = signed_in(other_admin)
    for method, url in pages(connection, privacy)[2:]:
        response = getattr(client, method)(
            url, {"outcome": "x", "name": "stolen"} if method == "post" else None
        )
        assert response.status_code == 404, url
    listing = client.get(reverse("console:shopify"))
    assert listing.status_code == 200 and "herb.myshopify.com" not in listing.content.decode()
    edit = client.post(reverse("console:shopify_detail", args=[connection.pk]), {"name": "stolen"})
    assert edit.status_code == 404
    connection.refresh_from_db()
    assert (connection.name, connection.sync_status) == ("官方網店", "never")
    privacy.refresh_from_db()
    assert privacy.status == "open"


def test_admin_connects_a_store_and_sees_the_webhook_url(brand, hq_admin, settings):
    settings.BASE_URL = "https://omo.example.com"
    client = signed_in(hq_admin)
    response = client.post(
        reverse("console:shopify_create"),
        {
            "name": "官方網店",
            "shop_domain": "Herb.myshopify.com",
            "access_token": TOKEN,
            "webhook_secret": SECRET,
            "api_version": "2025-07",
            "sales_channel": "external_web",
            "api_base": "",
        },
    )
    connection = ShopifyConnection.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == reverse(
        "console:shopify_detail", args=[connection.pk]
    )
    assert connection.shop_domain == "herb.myshopify.com"
    assert connection.secrets == {"access_token": TOKEN, "webhook_secret": SECRET}
    with db.cursor() as cursor:
        cursor.execute("SELECT secrets FROM connectors_shopifyconnection WHERE id = %s", [connection.pk])
        stored = cursor.fetchone()[0]
    assert TOKEN not in stored and SECRET not in stored  # encrypted at rest
    detail = client.get(response["Location"]).content.decode()
    assert f"https://omo.example.com/webhooks/shopify/{connection.pk}" in detail
    assert TOKEN not in detail and SECRET not in detail
    assert AuditLog.objects.filter(brand=brand, action="shopify.connected").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("shop_domain", "herb.example.com", "myshopify.com"),
        ("api_version", "2025-05", "quarterly"),
        ("access_token", "", ""),
        ("webhook_secret", "a b", "without spaces"),
    ],
)
def test_bad_settings_are_refused_on_the_field(brand, hq_admin, field, value, message):
    data = {
        "name": "官方網店",
        "shop_domain": "herb.myshopify.com",
        "access_token": TOKEN,
        "webhook_secret": SECRET,
        "api_version": "2025-07",
        "sales_channel": "external_web",
        "api_base": "",
        field: value,
    }
    response = signed_in(hq_admin).post(reverse("console:shopify_create"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert not ShopifyConnection.objects.exists()


def test_editing_with_blank_secrets_keeps_them_and_a_new_secret_rotates(connection, hq_admin):
    client = signed_in(hq_admin)
    base = {
        "name": "新名稱",
        "shop_domain": "herb.myshopify.com",
        "api_version": "2025-10",
        "sales_channel": "web_shop",
        "api_base": "",
        "is_active": "on",
        "access_token": "",
        "webhook_secret": "",
    }
    assert client.post(reverse("console:shopify_detail", args=[connection.pk]), base).status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.api_version, connection.sales_channel) == (
        "新名稱",
        "2025-10",
        "web_shop",
    )
    assert connection.secrets == {"access_token": TOKEN, "webhook_secret": SECRET}

    client.post(
        reverse("console:shopify_detail", args=[connection.pk]),
        {**base, "webhook_secret": "shpss_rotated_0002"},
    )
    connection.refresh_from_db()
    assert connection.secrets["webhook_secret"] == "shpss_rotated_0002"
    assert AuditLog.objects.filter(action="shopify.updated").order_by("id").last().detail["rotated"] == [
        "webhook_secret"
    ]


def test_sync_button_queues_the_sync(connection, hq_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(hq_admin).post(reverse("console:shopify_sync", args=[connection.pk]))
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.sync_status == "queued"


def test_admin_resolves_a_privacy_request(connection, privacy, hq_admin):
    response = signed_in(hq_admin).post(
        reverse("console:shopify_privacy_resolve", args=[connection.pk, privacy.pk]),
        {"outcome": "已刪除商店資料"},
    )
    assert response.status_code == 302
    privacy.refresh_from_db()
    assert (privacy.status, privacy.outcome) == ("done", "已刪除商店資料")


def test_the_sidebar_offers_shopify_to_hq_admins_only(hq_admin, hq_agent):
    url = reverse("console:shopify")
    assert url in signed_in(hq_admin).get(reverse("console:dashboard")).content.decode()
    assert url not in signed_in(hq_agent).get(reverse("console:dashboard")).content.decode()


def test_pages_speak_english_too(hq_admin):
    client = signed_in(hq_admin)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("console:shopify_create"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Connect a Shopify store" in page and "Admin API access token" in page
