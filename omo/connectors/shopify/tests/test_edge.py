"""Shopify webhooks answered by the ASGI edge before Django: the same checks as the view, the
delivery stored with its task through the shared group-commit writer, answered once committed."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django_tasks_db.models import DBTaskResult

from omo.connectors.models import ShopifyWebhook
from omo.connectors.shopify.edge import ReceiverCache, ShopifyEdge
from omo.connectors.shopify.tests.conftest import SECRET, fixture
from omo.connectors.tasks import process_shopify_webhook
from omo.core.edge import run_in_calling_thread
from omo.devtools.shopify_webhooks import webhook_headers
from omo.testing.line import call_asgi

pytestmark = pytest.mark.django_db


def _edge(app=None, **options) -> ShopifyEdge:
    return ShopifyEdge(
        app, run_db=run_in_calling_thread, run_lookup=run_in_calling_thread, cache=ReceiverCache(), **options
    )


def _post(edge, connection, raw: bytes, headers: dict[str, str], *, method: str = "POST"):
    return async_to_sync(call_asgi)(edge, f"/webhooks/shopify/{connection.pk}", raw, headers, method=method)


def _signed(connection, topic="orders/create", *, secret=SECRET, **options):
    raw = json.dumps(fixture("orders_create")).encode()
    return raw, webhook_headers(secret, raw, topic=topic, shop_domain=connection.shop_domain, **options)


def test_a_signed_delivery_is_stored_with_its_task_and_a_retry_is_a_no_op(connection):
    edge = _edge()
    raw, headers = _signed(connection, webhook_id="wh-edge-1", event_id="ev-edge-1")

    assert _post(edge, connection, raw, headers) == (200, {"received": True, "duplicate": False})
    assert _post(edge, connection, raw, headers) == (200, {"received": True, "duplicate": True})

    receipt = ShopifyWebhook.objects.get()
    assert (receipt.topic, receipt.webhook_id, receipt.order_ref, receipt.status) == (
        "orders/create",
        "wh-edge-1",
        "5820001230001",
        "pending",
    )
    assert DBTaskResult.objects.filter(task_path=process_shopify_webhook.module_path).count() == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"secret": "shpss_wrong"}, 401, "invalid_signature"),
        ({"topic": ""}, 400, "missing_header"),
        ({"triggered_at": "yesterday"}, 400, "bad_header"),
    ],
)
def test_bad_deliveries_are_refused_and_nothing_is_stored(connection, change, status, code):
    raw, headers = _signed(connection, **change)

    answer = _post(_edge(), connection, raw, headers)

    assert (answer[0], answer[1]["error"]) == (status, code)
    assert not ShopifyWebhook.objects.exists()


def test_unknown_connection_too_large_body_and_other_methods(connection):
    edge = _edge()
    raw, headers = _signed(connection)
    status, body = async_to_sync(call_asgi)(edge, "/webhooks/shopify/999999", raw, headers)
    assert (status, body["error"]) == (404, "unknown_connection")
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    assert _post(edge, connection, big, {**headers, "Content-Length": str(len(big))})[0] == 413
    assert _post(edge, connection, b"", {}, method="GET")[0] == 405
    assert not ShopifyWebhook.objects.exists()


def test_a_new_webhook_secret_is_picked_up_at_once(connection):
    edge = _edge()
    raw, headers = _signed(connection)
    assert _post(edge, connection, raw, headers)[0] == 200  # the receiver is cached now

    # Saved elsewhere (this edge's own cache hears no signal): the old secret is still cached.
    connection.secrets = {**connection.secrets, "webhook_secret": "shpss_rotated"}
    connection.save()
    assert edge.cache.get(connection.pk)[1].secret == SECRET
    raw, headers = _signed(connection, secret="shpss_rotated")

    assert _post(edge, connection, raw, headers)[0] == 200


def test_other_paths_go_to_the_wrapped_app(connection):
    seen: list[str] = []

    async def django_app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    edge = _edge(django_app)
    for path in ("/webhooks/shopify/", "/webhooks/shopify/x", "/api/v1/orders"):
        assert async_to_sync(call_asgi)(edge, path, b"", {})[0] == 299
    assert seen == ["/webhooks/shopify/", "/webhooks/shopify/x", "/api/v1/orders"]
