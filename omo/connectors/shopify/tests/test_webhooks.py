"""Receiving Shopify webhooks: HMAC on the raw body, headers, de-duplication, the ASGI edge."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django_tasks_db.models import DBTaskResult

from omo.connectors.models import ShopifyConnection, ShopifyWebhook
from omo.connectors.shopify.tests.conftest import SECRET, django_headers, fixture, post_webhook
from omo.connectors.tasks import process_shopify_webhook
from omo.devtools.shopify_webhooks import sign, webhook_headers
from omo.platforms.edge import WebhookEdge
from omo.testing.line import call_asgi

pytestmark = pytest.mark.django_db


def _tasks() -> int:
    return DBTaskResult.objects.filter(task_path=process_shopify_webhook.module_path).count()


def test_signed_webhook_is_recorded_with_its_task_and_answered_200(connection):
    response = post_webhook(
        connection,
        "orders/create",
        fixture("orders_create"),
        webhook_id="wh-1",
        event_id="ev-1",
        triggered_at="2025-03-10T06:05:01.123456Z",
    )

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    receipt = ShopifyWebhook.objects.get()
    assert (
        receipt.brand_id,
        receipt.topic,
        receipt.webhook_id,
        receipt.event_id,
        receipt.order_ref,
        receipt.status,
    ) == (
        connection.brand_id,
        "orders/create",
        "wh-1",
        "ev-1",
        "5820001230001",
        "pending",
    )
    assert receipt.api_version == "2025-07"
    assert receipt.triggered_at.isoformat() == "2025-03-10T06:05:01.123456+00:00"
    assert receipt.payload["name"] == "#1001"
    assert _tasks() == 1


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(
            lambda h, raw: h.update({"X-Shopify-Hmac-Sha256": sign("another-secret", raw)}), id="wrong-secret"
        ),
        pytest.param(lambda h, raw: h.pop("X-Shopify-Hmac-Sha256"), id="missing"),
        pytest.param(lambda h, raw: h.update({"X-Shopify-Hmac-Sha256": ""}), id="empty"),
        pytest.param(
            lambda h, raw: h.update({"X-Shopify-Hmac-Sha256": sign(SECRET, raw + b" ")}), id="other-body"
        ),
        pytest.param(
            lambda h, raw: h.update({"X-Shopify-Hmac-Sha256": sign(SECRET, raw).encode().hex()}),
            id="hex-not-base64",
        ),
    ],
)
def test_bad_or_missing_hmac_is_401_and_nothing_is_stored(client, connection, mutate):
    raw = json.dumps(fixture("orders_create")).encode()
    headers = webhook_headers(SECRET, raw, topic="orders/create", shop_domain=connection.shop_domain)
    mutate(headers, raw)

    response = client.post(
        f"/webhooks/shopify/{connection.pk}",
        data=raw,
        content_type="application/json",
        **django_headers(headers),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert ShopifyWebhook.objects.count() == 0
    assert _tasks() == 0


def test_the_body_is_verified_byte_for_byte_not_as_reparsed_json(client, connection):
    raw = b'{"id": 5820001230001,   "name": "#1001"}'
    headers = webhook_headers(SECRET, raw, topic="orders/create", shop_domain=connection.shop_domain)
    respaced = b'{"id":5820001230001,"name":"#1001"}'

    bad = client.post(
        f"/webhooks/shopify/{connection.pk}",
        data=respaced,
        content_type="application/json",
        **django_headers(headers),
    )
    good = client.post(
        f"/webhooks/shopify/{connection.pk}",
        data=raw,
        content_type="application/json",
        **django_headers(headers),
    )

    assert (bad.status_code, good.status_code) == (401, 200)


def test_replayed_webhook_id_is_a_no_op(connection):
    first = post_webhook(
        connection, "orders/create", fixture("orders_create"), webhook_id="wh-1", event_id="ev-1"
    )
    again = post_webhook(
        connection, "orders/create", fixture("orders_create"), webhook_id="wh-1", event_id="ev-1"
    )

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"received": True, "duplicate": True}
    assert ShopifyWebhook.objects.count() == 1
    assert _tasks() == 1


def test_same_event_id_with_another_webhook_id_is_a_no_op(connection):
    post_webhook(connection, "orders/create", fixture("orders_create"), webhook_id="wh-1", event_id="ev-1")
    copy = post_webhook(
        connection, "orders/create", fixture("orders_create"), webhook_id="wh-2", event_id="ev-1"
    )

    assert copy.status_code == 200 and copy.json()["duplicate"] is True
    assert list(ShopifyWebhook.objects.values_list("webhook_id", flat=True)) == ["wh-1"]
    assert _tasks() == 1


def test_another_topic_of_the_same_event_is_kept(connection):
    post_webhook(connection, "orders/create", fixture("orders_create"), webhook_id="wh-1", event_id="ev-1")
    post_webhook(connection, "orders/paid", fixture("orders_paid"), webhook_id="wh-2", event_id="ev-1")

    assert sorted(ShopifyWebhook.objects.values_list("topic", flat=True)) == ["orders/create", "orders/paid"]


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ("X-Shopify-Topic", "X-Shopify-Topic is required"),
        ("X-Shopify-Webhook-Id", "X-Shopify-Webhook-Id is required"),
    ],
)
def test_missing_required_headers_are_named(client, connection, drop, expected):
    raw = json.dumps(fixture("orders_create")).encode()
    headers = webhook_headers(SECRET, raw, topic="orders/create", shop_domain=connection.shop_domain)
    headers.pop(drop)

    response = client.post(
        f"/webhooks/shopify/{connection.pk}",
        data=raw,
        content_type="application/json",
        **django_headers(headers),
    )

    assert response.status_code == 400
    assert expected in response.json()["message"]
    assert ShopifyWebhook.objects.count() == 0


def test_malformed_json_signed_correctly_is_400(connection):
    response = post_webhook(connection, "orders/create", b"{not json")
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert ShopifyWebhook.objects.count() == 0


def test_another_shops_domain_header_is_refused(client, connection):
    raw = json.dumps(fixture("orders_create")).encode()
    headers = webhook_headers(SECRET, raw, topic="orders/create", shop_domain="someone-else.myshopify.com")
    response = client.post(
        f"/webhooks/shopify/{connection.pk}",
        data=raw,
        content_type="application/json",
        **django_headers(headers),
    )
    assert response.status_code == 400 and "someone-else.myshopify.com" in response.json()["message"]


def test_unknown_or_inactive_connection_is_404(connection):
    connection.is_active = False
    connection.save()
    assert post_webhook(connection, "orders/create", fixture("orders_create")).status_code == 404
    missing = ShopifyConnection(pk=connection.pk + 100, shop_domain=connection.shop_domain)
    assert post_webhook(missing, "orders/create", fixture("orders_create")).status_code == 404


def test_a_webhook_signed_for_another_brands_connection_is_refused(connection, other_brand):
    theirs = ShopifyConnection.objects.create(
        brand=other_brand,
        name="別家",
        shop_domain="other.myshopify.com",
        secrets={"access_token": "shpat_other_token", "webhook_secret": "shpss_other_secret_0002"},
    )
    # Our secret, their connection id: refused, nothing lands in their brand.
    response = post_webhook(theirs, "orders/create", fixture("orders_create"), secret=SECRET)
    assert response.status_code == 401
    assert ShopifyWebhook.objects.filter(brand=other_brand).count() == 0


def test_unhandled_topic_is_recorded_as_ignored_without_a_task(connection):
    response = post_webhook(connection, "themes/publish", {"id": 954889, "name": "herb"})
    assert response.status_code == 200
    assert ShopifyWebhook.objects.get().status == "ignored"
    assert ShopifyWebhook.objects.get().note == "topic themes/publish is not handled"
    assert _tasks() == 0


def test_only_post_is_allowed(client, connection):
    assert client.get(f"/webhooks/shopify/{connection.pk}").status_code == 405


def test_the_asgi_edge_passes_shopify_webhooks_to_django(connection):
    """The messaging edge owns /webhooks/<messaging platform>/…; Shopify goes on to the next app
    (its own edge in production, omo/connectors/shopify/edge.py)."""
    seen: list[str] = []

    async def django_app(scope, receive, send):  # the next app in line
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    edge = WebhookEdge(django_app)
    raw = json.dumps(fixture("orders_create")).encode()
    headers = webhook_headers(SECRET, raw, topic="orders/create", shop_domain=connection.shop_domain)
    status, _ = async_to_sync(call_asgi)(edge, f"/webhooks/shopify/{connection.pk}", raw, headers)

    assert status == 299
    assert seen == [f"/webhooks/shopify/{connection.pk}"]
    edge.close()
