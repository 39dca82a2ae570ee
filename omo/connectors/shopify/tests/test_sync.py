"""Product sync through the GraphQL Admin API against the stand-in: pagination, throttling, errors;
and the stand-in's own checks of what it receives."""

from __future__ import annotations

import json

import pytest
import urllib3
from django.core.management import CommandError, call_command

from omo.catalog.models import Product, Variant
from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import products
from omo.connectors.shopify.client import PRODUCTS_QUERY, GraphQLClient, ShopifyApiError
from omo.connectors.shopify.tests.conftest import TOKEN
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def _seed(standin, count: int, *, variants: int = 1) -> None:
    for number in range(1, count + 1):
        standin.add_product(
            f"item-{number:03d}",
            f"商品 {number}",
            [
                {
                    "sku": f"SKU-{number:03d}-{v}",
                    "title": f"款 {v}",
                    "price": f"{100 + number}.00",
                    "options": [("款式", f"款 {v}")],
                }
                for v in range(1, variants + 1)
            ],
            updated_at="2025-03-01T02:00:00Z",
            image_url=f"https://cdn.shopify.com/s/files/item-{number}.jpg",
        )


def test_sync_reads_every_page_into_the_catalogue(brand, connection, shopify_standin):
    _seed(shopify_standin, 60)
    shopify_standin.products[0].variants[0].compare_at_price = "199.00"

    counts = products.sync_products(connection)

    assert {key: counts[key] for key in ("created", "updated", "unchanged", "failed")} == {
        "created": 60,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert counts["requests"] == 6  # pages of 10
    pages = [r.variables for r in shopify_standin.received if r.status == 200]
    assert [p["first"] for p in pages] == [10] * 6
    assert pages[0]["after"] is None and len({p["after"] for p in pages}) == 6
    assert Product.objects.filter(brand=brand).count() == 60
    first = Product.objects.get(brand=brand, handle="item-001")
    variant = first.variants.get()
    assert (first.title, variant.sku, variant.price, variant.compare_at_price, variant.options) == (
        "商品 1",
        "SKU-001-1",
        10100,
        19900,
        {"款式": "款 1"},
    )
    assert first.images.get().url == "https://cdn.shopify.com/s/files/item-1.jpg"
    connection.refresh_from_db()
    assert (connection.sync_status, connection.sync_error) == ("done", "")

    again = products.sync_products(connection)
    assert (again["created"], again["unchanged"]) == (0, 60)


def test_a_product_with_more_variants_than_one_page_is_read_completely(brand, connection, shopify_standin):
    _seed(shopify_standin, 1, variants=60)

    products.sync_products(connection)

    assert Variant.objects.filter(brand=brand).count() == 60
    operations = [(r.operation, r.variables.get("first")) for r in shopify_standin.received]
    assert operations == [("OmoProducts", 10), ("OmoProductVariants", 100)]
    assert shopify_standin.received[1].variables["id"] == "gid://shopify/Product/1001"
    assert shopify_standin.received[1].variables["after"]


def test_throttled_answers_are_waited_out_and_retried(brand, connection, shopify_standin):
    _seed(shopify_standin, 30)
    shopify_standin.restore_rate = 2000.0  # points per second: the waits stay short
    shopify_standin.inject("throttled", 2)

    counts = products.sync_products(connection)

    assert counts["created"] == 30 and counts["throttle_waits"] >= 2
    throttled = [r for r in shopify_standin.received if r.requested_cost is not None]
    assert len(throttled) == 5  # two refused, then three pages


def test_a_bucket_too_empty_for_the_next_page_is_respected(brand, connection, shopify_standin):
    _seed(shopify_standin, 30)
    shopify_standin.restore_rate = 5000.0
    shopify_standin.drain(1000)

    counts = products.sync_products(connection)

    assert counts["created"] == 30
    assert counts["throttle_waits"] >= 1


def test_http_429_is_retried_after_retry_after(brand, connection, shopify_standin):
    _seed(shopify_standin, 3)
    shopify_standin.inject("429", 2, retry_after="0.05")

    counts = products.sync_products(connection)

    assert counts["created"] == 3
    assert [r.status for r in shopify_standin.received] == [429, 429, 200]
    assert counts["throttle_waits"] == 2 and counts["waited_seconds"] == pytest.approx(0.1)


def test_a_wrong_token_fails_the_sync_with_the_field_named(brand, connection, shopify_standin):
    connection.secrets = {**connection.secrets, "access_token": "shpat_wrong"}
    connection.save()

    counts = products.sync_products(connection)

    assert counts["error"].startswith("access_token: refused (401)")
    connection.refresh_from_db()
    assert connection.sync_status == "failed" and connection.sync_error.startswith("access_token")
    assert Product.objects.count() == 0


def test_a_store_in_another_currency_is_refused(brand, connection, shopify_standin):
    _seed(shopify_standin, 2)
    shopify_standin.currency = "USD"
    counts = products.sync_products(connection)
    assert counts["error"] == "currency: the store sells in USD, the brand in TWD"
    assert Product.objects.count() == 0


def test_one_bad_product_does_not_stop_the_others(brand, connection, shopify_standin):
    f.make_product(brand, "別的商品", variants=[("SKU-002-1", "", 50000)])
    _seed(shopify_standin, 3)

    counts = products.sync_products(connection)

    assert (counts["created"], counts["failed"]) == (2, 1)
    assert (
        counts["errors"]
        == [
            {
                "handle": "item-002",
                "field": "variants[0].sku",
                "message": "sku SKU-002-1 already belongs to product 有機棉t恤",
            }
        ]
        or counts["errors"][0]["field"] == "variants[0].sku"
    )


def test_the_api_base_can_be_set_per_connection(brand, connection, shopify_standin, settings):
    settings.OMO_SHOPIFY_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    _seed(shopify_standin, 1)
    connection.api_base = shopify_standin.url
    connection.save()
    assert products.sync_products(connection)["created"] == 1


def test_management_command_syncs_a_connection(brand, connection, shopify_standin, capsys):
    _seed(shopify_standin, 2)
    call_command("shopify_sync_products", "--connection", str(connection.pk))
    report = json.loads(capsys.readouterr().out.strip())
    assert (report["connection"], report["created"]) == (connection.pk, 2)
    with pytest.raises(CommandError):
        call_command("shopify_sync_products")


def test_sync_button_queues_one_task_at_a_time(brand, connection, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from omo.connectors.tasks import sync_shopify_products
    from omo.core.audit import Actor

    with django_capture_on_commit_callbacks(execute=True):
        assert products.request_product_sync(connection, actor=Actor.system(brand)) is True
        assert products.request_product_sync(connection, actor=Actor.system(brand)) is False
    assert DBTaskResult.objects.filter(task_path=sync_shopify_products.module_path).count() == 1
    assert ShopifyConnection.objects.get().sync_status == "queued"


# --- the stand-in checks what it receives ----------------------------------------------------------------------


def _post(standin, query: str, variables: dict, *, token: str = TOKEN, version: str = "2025-07"):
    response = urllib3.request(
        "POST",
        f"{standin.url}/admin/api/{version}/graphql.json",
        body=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", "X-Shopify-Access-Token": token},
    )
    return response.status, json.loads(response.data)


def test_standin_refuses_unknown_fields_with_shopifys_wording(shopify_standin):
    status, body = _post(shopify_standin, "query { products(first: 5) { nodes { id colour } } }", {})
    assert status == 200
    assert body["errors"][0]["message"] == "Field 'colour' doesn't exist on type 'Product'"


def test_standin_requires_first_or_last_and_a_page_size_within_250(shopify_standin):
    assert (
        "first or last"
        in _post(shopify_standin, "query { products { nodes { id } } }", {})[1]["errors"][0]["message"]
    )
    too_big = _post(shopify_standin, "query { products(first: 251) { nodes { id } } }", {})[1]
    assert "between 0 and 250" in too_big["errors"][0]["message"]


def test_standin_checks_variables_against_their_declarations(shopify_standin):
    wrong = _post(shopify_standin, PRODUCTS_QUERY, {"first": "25", "after": None})[1]
    assert wrong["errors"][0]["message"] == "Variable $first of type Int! was provided invalid value"
    undeclared = _post(shopify_standin, PRODUCTS_QUERY, {"first": 5, "after": None, "sort": "x"})[1]
    assert "not defined" in undeclared["errors"][0]["message"]


def test_standin_checks_token_version_and_answers_only_what_was_asked(shopify_standin):
    _seed(shopify_standin, 1)
    assert _post(shopify_standin, PRODUCTS_QUERY, {"first": 1}, token="nope")[0] == 401
    assert _post(shopify_standin, PRODUCTS_QUERY, {"first": 1}, version="2025-05")[0] == 404
    status, body = _post(shopify_standin, "query { products(first: 1) { nodes { handle } } }", {})
    assert status == 200
    assert body["data"] == {"products": {"nodes": [{"handle": "item-001"}]}}
    cost = body["extensions"]["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 1000.0 and cost["requestedQueryCost"] >= 1


def test_standin_refuses_a_query_above_the_single_query_maximum(shopify_standin):
    query = "query { products(first: 250) { nodes { id variants(first: 250) { nodes { id } } } } }"
    body = _post(shopify_standin, query, {})[1]
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_page_size_shrinks_when_a_page_would_cost_more_than_allowed(brand, connection, shopify_standin):
    _seed(shopify_standin, 12)
    shopify_standin.maximum = 400.0  # a store whose limit is lower than planned for
    counts = products.sync_products(connection)
    assert counts["created"] == 12
    assert [r.variables["first"] for r in shopify_standin.received] == [10, 5, 5, 5]


def test_the_real_client_raises_on_graphql_errors(shopify_standin):
    client = GraphQLClient(base=shopify_standin.url, api_version="2025-07", access_token=TOKEN)
    with pytest.raises(ShopifyApiError) as error:
        client.execute("query { products(first: 1) { nodes { nope } } }", {})
    assert error.value.field == "query" and "nope" in error.value.message
