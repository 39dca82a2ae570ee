"""Products re-synced on a schedule: each connection every `sync_interval_hours` (0 = off), queued by
the shared periodic job, and never two syncs of one connection at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.catalog.models import Product
from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import connections, products
from omo.connectors.tasks import sync_due_shopify_products, sync_shopify_products
from omo.core import schedule
from omo.core.models import AuditLog

pytestmark = pytest.mark.django_db


def _sync_tasks() -> int:
    return DBTaskResult.objects.filter(task_path=sync_shopify_products.module_path).count()


def _synced(connection: ShopifyConnection, hours_ago: float, **fields) -> ShopifyConnection:
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        last_synced_at=timezone.now() - dt.timedelta(hours=hours_ago), sync_status="done", **fields
    )
    connection.refresh_from_db()
    return connection


def test_the_periodic_job_is_in_the_shared_schedule():
    [job] = [job for job in schedule.registered() if job.name == "connectors.sync_due_products"]
    assert job.task_path == "omo.connectors.tasks.sync_due_shopify_products"
    assert job.interval == dt.timedelta(minutes=10)
    now = timezone.now()
    assert schedule.tick(now, jobs=(job,)) == ["connectors.sync_due_products"]
    assert schedule.tick(now + dt.timedelta(minutes=5), jobs=(job,)) == []
    assert DBTaskResult.objects.filter(task_path=sync_due_shopify_products.module_path).count() == 1


def test_a_new_connection_defaults_to_every_24_hours(brand, connection):
    assert connection.sync_interval_hours == 24


@pytest.mark.parametrize(
    ("hours_ago", "fields", "due"),
    [
        (None, {}, True),  # never synced
        (23, {}, False),
        (25, {}, True),
        (7, {"sync_interval_hours": 6}, True),
        (500, {"sync_interval_hours": 0}, False),  # automatic sync off
        (500, {"is_active": False}, False),
    ],
)
def test_which_connections_are_due(brand, connection, hours_ago, fields, due):
    if hours_ago is not None:
        _synced(connection, hours_ago, **fields)
    else:
        ShopifyConnection.objects.filter(pk=connection.pk).update(**fields)
    assert [c.pk for c in products.due_for_sync()] == ([connection.pk] if due else [])


def test_a_due_connection_is_queued_once(brand, connection, django_capture_on_commit_callbacks):
    _synced(connection, 30)

    with django_capture_on_commit_callbacks(execute=True):
        assert products.sync_due_products() == {"queued": [connection.pk]}
        assert products.sync_due_products() == {"queued": []}  # queued: not again

    assert _sync_tasks() == 1
    connection.refresh_from_db()
    assert connection.sync_status == "queued" and connection.sync_started_at is not None
    audit = AuditLog.objects.get(action="shopify.sync_requested")
    assert (audit.actor_user_id, audit.detail) == (None, {"trigger": "schedule"})


def test_a_running_sync_is_not_started_twice(brand, connection, shopify_standin):
    started = timezone.now() - dt.timedelta(minutes=20)
    ShopifyConnection.objects.filter(pk=connection.pk).update(sync_status="running", sync_started_at=started)

    result = products.sync_products(connection)

    assert result == {"skipped": f"sync: already running since {started.isoformat()}"}
    assert shopify_standin.received == []
    assert products.due_for_sync() == []
    connection.refresh_from_db()
    assert (connection.sync_status, connection.sync_started_at) == ("running", started)


def test_a_sync_lost_for_hours_is_started_again(brand, connection, shopify_standin):
    shopify_standin.add_product(
        "item-001", "商品 1", [{"sku": "SKU-001", "title": "款 1", "price": "100.00", "options": []}]
    )
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        sync_status="running", sync_started_at=timezone.now() - dt.timedelta(hours=4)
    )

    assert [c.pk for c in products.due_for_sync()] == [connection.pk]
    assert products.sync_products(connection)["created"] == 1
    connection.refresh_from_db()
    assert connection.sync_status == "done"
    assert Product.objects.filter(brand=brand, handle="item-001").exists()


def test_the_queued_task_runs_the_sync(brand, connection, shopify_standin):
    shopify_standin.add_product(
        "item-001", "商品 1", [{"sku": "SKU-001", "title": "款 1", "price": "100.00", "options": []}]
    )
    _synced(connection, 30)

    products.sync_due_products()
    result = sync_shopify_products.call(connection.pk)

    assert (result["connection_id"], result["created"]) == (connection.pk, 1)
    connection.refresh_from_db()
    assert connection.sync_status == "done"
    assert connection.last_synced_at > timezone.now() - dt.timedelta(minutes=1)
    assert products.due_for_sync() == []


def test_the_console_shows_and_changes_the_interval(brand, connection, hq_admin):
    client = Client()
    client.force_login(hq_admin)
    url = reverse("console:shopify_detail", args=[connection.pk])
    _synced(connection, 2)
    page = client.get(url).content.decode()
    assert 'id="shopify-sync-schedule"' in page and "每 24 小時" in page
    next_at = timezone.localtime(connection.last_synced_at + dt.timedelta(hours=24))
    assert f"下次 {next_at:%Y/%m/%d %H:%M}" in page

    form = {
        "name": connection.name,
        "shop_domain": connection.shop_domain,
        "api_version": connection.api_version,
        "sales_channel": connection.sales_channel,
        "is_active": "on",
    }
    bad = client.post(url, {**form, "sync_interval_hours": "169"})
    assert bad.status_code == 400
    assert bad.context["form"].errors["sync_interval_hours"] == ["請確認此數值是否小於或等於 168。"]
    assert client.post(url, {**form, "sync_interval_hours": "6"}).status_code == 302
    connection.refresh_from_db()
    assert connection.sync_interval_hours == 6
    assert client.post(url, {**form, "sync_interval_hours": "0"}).status_code == 302
    assert "關閉（僅手動）" in client.get(url).content.decode()


@pytest.mark.parametrize("hours", ["every day", -1, 169, True])
def test_the_service_names_a_bad_interval(brand, hours):
    from omo.core.audit import Actor

    with pytest.raises(connections.ShopifySettingsError) as refused:
        connections.create_connection(
            brand,
            actor=Actor.system(brand),
            name="官方網店",
            shop_domain="herb.myshopify.com",
            access_token="shpat_test_access_token_0001",
            webhook_secret="shpss_test_webhook_secret_0001",
            sync_interval_hours=hours,
        )
    assert refused.value.field == "sync_interval_hours"
    assert refused.value.message == "must be a whole number of hours from 0 (no automatic sync) to 168"
    assert not ShopifyConnection.objects.exists()
