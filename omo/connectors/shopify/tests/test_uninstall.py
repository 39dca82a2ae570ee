"""app/uninstalled: the connection stops (data kept), later deliveries are stored but not processed
(privacy topics excepted), HQ sees it on the settings page and reinstalls by entering a new token."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from omo.commerce.models import Order
from omo.connectors.models import PrivacyRequest, ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify import processing, products
from omo.connectors.shopify.tests.conftest import SECRET, TOKEN, deliver, fixture, post_webhook
from omo.connectors.tasks import process_shopify_webhook
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

UNINSTALLED_AT = "2025-04-01T01:02:03.000000Z"


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 128000), ("TEE-L", "L", 128000)])


@pytest.fixture
def uninstalled(connection, tee) -> ShopifyConnection:
    deliver(connection, "orders/create", "orders_create", webhook_id="wh-order")
    deliver(
        connection, "app/uninstalled", "app_uninstalled", webhook_id="wh-gone", triggered_at=UNINSTALLED_AT
    )
    connection.refresh_from_db()
    return connection


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(connection: ShopifyConnection, **changes: str) -> dict[str, str]:
    return {
        "name": connection.name,
        "shop_domain": connection.shop_domain,
        "api_version": connection.api_version,
        "sales_channel": connection.sales_channel,
        "api_base": "",
        "sync_interval_hours": str(connection.sync_interval_hours),
        "access_token": "",
        "webhook_secret": "",
        **changes,
    }


def test_app_uninstalled_stops_the_connection_and_keeps_its_data(brand, uninstalled):
    connection = uninstalled
    assert connection.is_active is False
    assert connection.uninstalled_at == dt.datetime(2025, 4, 1, 1, 2, 3, tzinfo=dt.UTC)
    receipt = ShopifyWebhook.objects.get(webhook_id="wh-gone")
    assert receipt.status == "processed"
    assert receipt.note == (
        "the app was uninstalled from herb.myshopify.com at 2025-04-01T01:02:03+00:00: connection inactive, "
        "product sync stopped, data kept"
    )
    # Data kept: the order, its receipt and the secrets (the webhook secret still verifies).
    assert Order.objects.filter(brand=brand, source="shopify").count() == 1
    assert connection.secrets == {"access_token": TOKEN, "webhook_secret": SECRET}
    audit = AuditLog.objects.get(action="shopify.uninstalled")
    assert (audit.brand_id, audit.target_id, audit.actor_user_id) == (brand.pk, str(connection.pk), None)
    assert audit.detail == {
        "shop_domain": "herb.myshopify.com",
        "reported_shop": "herb.myshopify.com",
        "webhook_id": "wh-gone",
        "uninstalled_at": "2025-04-01T01:02:03+00:00",
    }


def test_later_deliveries_are_verified_and_stored_but_not_processed(brand, uninstalled):
    tasks_before = DBTaskResult.objects.filter(task_path=process_shopify_webhook.module_path).count()
    document = fixture("orders_create") | {"id": 5820001239999, "name": "#1999"}

    response = post_webhook(uninstalled, "orders/create", document, webhook_id="wh-after")

    assert response.status_code == 200
    receipt = ShopifyWebhook.objects.get(webhook_id="wh-after")
    assert receipt.status == "ignored"
    assert receipt.note == (
        "not processed: the app was uninstalled from herb.myshopify.com at 2025-04-01T01:02:03+00:00; "
        "kept for reference. Reinstall the app and enter its new access token in the console to process "
        "deliveries again."
    )
    assert DBTaskResult.objects.filter(task_path=process_shopify_webhook.module_path).count() == tasks_before
    processing.process_pending(uninstalled)
    assert not Order.objects.filter(brand=brand, external_id="5820001239999").exists()
    # Still verified: a wrong signature is refused and not stored.
    assert post_webhook(uninstalled, "orders/create", document, secret="wrong-secret").status_code == 401
    # A second app/uninstalled is stored the same way and changes nothing.
    post_webhook(uninstalled, "app/uninstalled", fixture("app_uninstalled"), webhook_id="wh-gone-2")
    assert ShopifyWebhook.objects.get(webhook_id="wh-gone-2").status == "ignored"
    assert AuditLog.objects.filter(action="shopify.uninstalled").count() == 1


def test_shop_redact_after_uninstalling_is_still_recorded_for_hq(brand, uninstalled):
    deliver(uninstalled, "shop/redact", "shop_redact", webhook_id="wh-redact")

    assert ShopifyWebhook.objects.get(webhook_id="wh-redact").status == "processed"
    request = PrivacyRequest.objects.get(connection=uninstalled)
    assert (request.kind, request.status) == ("shop/redact", "open")


def test_an_uninstalled_store_is_not_synced(brand, uninstalled, shopify_standin):
    with pytest.raises(products.SyncRefused) as refused:
        products.request_product_sync(uninstalled, actor=Actor.system(brand))
    assert refused.value.code == "uninstalled"
    assert products.sync_products(uninstalled) == {
        "skipped": "app: uninstalled from the store at 2025-04-01T01:02:03+00:00"
    }
    assert shopify_standin.received == []
    uninstalled.last_synced_at = None
    uninstalled.save()
    assert products.due_for_sync() == []


def test_a_queued_sync_is_stopped_by_the_uninstall(brand, connection):
    connection.sync_status = "queued"
    connection.save()
    deliver(connection, "app/uninstalled", "app_uninstalled", webhook_id="wh-gone")
    connection.refresh_from_db()
    assert (connection.sync_status, connection.sync_error) == ("failed", "app: uninstalled from the store")


def test_the_settings_page_shows_the_uninstall_plainly(uninstalled, hq_admin):
    client = signed_in(hq_admin)
    page = client.get(reverse("console:shopify_detail", args=[uninstalled.pk])).content.decode()
    assert 'data-testid="shopify-uninstalled"' in page
    assert "應用程式已從商店解除安裝" in page and "2025/04/01 09:02" in page  # Asia/Taipei
    assert "已停止（應用程式已解除安裝）" in page
    assert reverse("console:shopify_sync", args=[uninstalled.pk]) not in page  # no sync button

    listing = client.get(reverse("console:shopify")).content.decode()
    assert "已解除安裝" in listing and "2025/04/01 09:02" in listing

    response = client.post(reverse("console:shopify_sync", args=[uninstalled.pk]), follow=True)
    assert "應用程式已從商店解除安裝，無法同步。" in response.content.decode()
    uninstalled.refresh_from_db()
    assert uninstalled.sync_status == "never"


def test_turning_it_back_on_without_a_token_names_the_token_field(uninstalled, hq_admin):
    response = signed_in(hq_admin).post(
        reverse("console:shopify_detail", args=[uninstalled.pk]), form(uninstalled, is_active="on")
    )
    assert response.status_code == 400
    assert response.context["form"].errors["access_token"] == [
        "the app was uninstalled from the store: reinstall it in Shopify and enter its new access token"
    ]
    uninstalled.refresh_from_db()
    assert (uninstalled.is_active, uninstalled.uninstalled_at is not None) == (False, True)


def test_entering_a_new_token_reinstalls_and_deliveries_are_processed_again(brand, uninstalled, hq_admin):
    response = signed_in(hq_admin).post(
        reverse("console:shopify_detail", args=[uninstalled.pk]),
        form(uninstalled, access_token="shpat_reinstalled_0002"),
    )
    assert response.status_code == 302
    uninstalled.refresh_from_db()
    assert (uninstalled.is_active, uninstalled.uninstalled_at) == (True, None)
    assert uninstalled.secrets["access_token"] == "shpat_reinstalled_0002"
    audit = AuditLog.objects.get(action="shopify.reinstalled")
    assert audit.actor_user_id == hq_admin.pk
    assert audit.detail["uninstalled_at"] == "2025-04-01T01:02:03+00:00"

    document = fixture("orders_create") | {"id": 5820001239999, "name": "#1999"}
    deliver(uninstalled, "orders/create", document, webhook_id="wh-back")
    assert ShopifyWebhook.objects.get(webhook_id="wh-back").status == "processed"
    assert Order.objects.filter(brand=brand, external_id="5820001239999").exists()


def test_another_brands_admin_cannot_see_or_reinstall_it(uninstalled, other_admin):
    client = signed_in(other_admin)
    url = reverse("console:shopify_detail", args=[uninstalled.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, form(uninstalled, access_token="shpat_stolen_00000001")).status_code == 404
    uninstalled.refresh_from_db()
    assert uninstalled.uninstalled_at is not None and uninstalled.secrets["access_token"] == TOKEN


def test_the_uninstall_and_the_schedule_speak_english_too(uninstalled, hq_admin):
    client = signed_in(hq_admin)
    client.cookies["django_language"] = "en"
    page = client.get(
        reverse("console:shopify_detail", args=[uninstalled.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "The app was uninstalled from the store" in page
    assert "Stopped (app uninstalled)" in page and "Automatic product sync every (hours)" in page
