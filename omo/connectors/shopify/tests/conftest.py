"""Shopify test fixtures: a connection, signed webhook posts with the real fixtures, the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, TestCase

from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import processing
from omo.devtools.shopify_standin import ShopifyStandIn
from omo.devtools.shopify_webhooks import webhook_headers

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "shpss_test_webhook_secret_0001"
TOKEN = "shpat_test_access_token_0001"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def connection(brand) -> ShopifyConnection:
    return ShopifyConnection.objects.create(
        brand=brand,
        name="官方網店",
        shop_domain="herb.myshopify.com",
        secrets={"access_token": TOKEN, "webhook_secret": SECRET},
    )


def django_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name != "Content-Type"
    }


def post_webhook(
    connection: ShopifyConnection,
    topic: str,
    document: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    client: Client | None = None,
    **options: Any,
):
    """POST a webhook signed exactly like Shopify; returns the response."""
    raw = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    headers = webhook_headers(secret, raw, topic=topic, shop_domain=connection.shop_domain, **options)
    return (client or Client()).post(
        f"/webhooks/shopify/{connection.pk}",
        data=raw,
        content_type="application/json",
        **django_headers(headers),
    )


def deliver(
    connection: ShopifyConnection, topic: str, name_or_document: str | dict[str, Any], **options: Any
):
    """Post a fixture (by name) or a document and process it; subscribers (attribution) run too."""
    document = fixture(name_or_document) if isinstance(name_or_document, str) else name_or_document
    response = post_webhook(connection, topic, document, **options)
    assert response.status_code == 200, response.content
    with TestCase.captureOnCommitCallbacks(execute=True):
        processing.process_pending(connection)
    return response


@pytest.fixture(scope="session")
def shopify_standin_server() -> Iterator[ShopifyStandIn]:
    standin = ShopifyStandIn(access_token=TOKEN, shop_domain="herb.myshopify.com").start()
    yield standin
    standin.stop()


@pytest.fixture
def shopify_standin(shopify_standin_server: ShopifyStandIn, settings: Any) -> ShopifyStandIn:
    standin = shopify_standin_server
    standin.maximum = 1000.0
    standin.restore_rate = 50.0
    standin.currency = "TWD"
    standin.reset()
    settings.OMO_SHOPIFY_API_BASE = standin.url
    return standin
