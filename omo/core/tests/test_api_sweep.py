"""Every route of the REST API, found by introspection, against tenancy and permission rules.

New endpoints are covered as soon as they are mounted: routes come from the API's own OpenAPI
schema, path parameters are filled with objects of brand A, and bodies are generated from each
operation's request schema. A path parameter this file does not know fails the sweep loudly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.api import api as omo_api
from omo.attribution.models import CommissionRule
from omo.binding import services as binding_services
from omo.catalog.models import ProductImage
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.core.models import ApiKey, ImportJob
from omo.inbox.models import Contact, Conversation, Inbox, WebhookReceipt
from omo.loyalty import services as loyalty
from omo.loyalty.models import Tier
from omo.segments.models import Segment
from omo.testing import factories as f
from omo.tracking.models import TrackingSource

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PREFIX = "/api/v1"
# Write routes a clerk key may use; adding one here is a deliberate decision. A clerk answers their
# own customers (and leaves notes on their conversations) as in the clerk app.
CLERK_MAY_WRITE: set[tuple[str, str]] = {
    ("POST", "/api/v1/conversations/{conversation_id}/messages"),
    ("POST", "/api/v1/conversations/{conversation_id}/notes"),
}
# Routes open without a key: none (the OpenAPI document and docs page are not operations).
PUBLIC: set[tuple[str, str]] = set()

SCHEMA = omo_api.get_openapi_schema()
ROUTES = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
]


def test_the_sweep_sees_every_app():
    paths = {path for _, path, _ in ROUTES}
    for expected in (
        "/orders",
        "/orders/batch",
        "/customers",
        "/products",
        "/stock",
        "/coupons",
        "/imports",
        "/api-keys",
        "/audit-log",
        "/stores",
        "/staff",
        "/tiers",
        "/settings/binding",
        "/settings/attribution",
        "/settings/inbox",
        "/settings/loyalty",
        "/tracking/sources",
        "/conversations",
        "/segments/scores",
        "/segments",
    ):
        assert PREFIX + expected in paths
    assert len(ROUTES) >= 45


# --- request building -------------------------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def sample(schema: dict[str, Any]) -> Any:
    """The smallest value that satisfies a JSON schema (required fields only)."""
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [option for option in schema[key] if _resolve(option).get("type") != "null"]
            return sample(options[0])
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: sample(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [sample(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1
        )
        return max(low, 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2026-11-20T10:00:00+08:00"
    if schema.get("format") == "date":
        return "1990-01-01"
    if schema.get("format") == "binary":
        return SimpleUploadedFile("sweep.png", b"\x89PNG\r\n", content_type="image/png")
    return "x" * max(schema.get("minLength", 1), 1)


@pytest.fixture
def objects(brand, store, warehouse, hq_admin, api_key):
    """One object of every kind a path parameter can name, all in brand A."""
    category = f.make_category(brand)
    product = f.make_product(brand, category=category, variants=[("SWEEP-1", "M", 50000)])
    variant = product.variants.get()
    image = ProductImage.objects.create(brand=brand, product=product, url="https://img.example/1.jpg")
    customer = f.make_customer(brand)
    order, _ = commerce.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": "SWEEP-1",
                "sales_channel": "pos",
                "store_code": store.code,
                "placed_at": "2026-11-20T10:00:00+08:00",
                "customer": {"phone": customer.phone},
                "lines": [{"sku": "SWEEP-1", "quantity": 1, "unit_price": 50000}],
            }
        ),
        actor=None,
    )
    coupon = loyalty.create_coupon(
        brand, actor=Actor.system(brand), name="滿千折百", kind="amount_off", value=10000
    )
    job = ImportJob.objects.create(brand=brand, kind="stock", content="sku,location_code,on_hand\n")
    tier = Tier.objects.create(brand=brand, name="銀卡", threshold=500000)
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", external_id="1000000001")
    leaving = f.make_user(brand, "sweep-leaving", role="clerk", store=store)
    binding_services.bind_customer(
        f.make_customer(brand, name="轉移顧客", phone="+886933100200"), leaving, source="manual"
    )
    transfer = binding_services.transfer_bindings(
        leaving, to_store=store, actor=Actor(brand=brand, user=hq_admin, role="hq_admin"), notify=False
    )
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id="U" + "5" * 32, customer=customer
    )
    conversation = Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer)
    return {
        "transfer_id": transfer.pk,
        "order_id": order.pk,
        "customer_id": customer.pk,
        "product_id": product.pk,
        "variant_id": variant.pk,
        "image_id": image.pk,
        "category_id": category.pk,
        "coupon_id": coupon.pk,
        "store_id": store.pk,
        "location_id": warehouse.pk,
        "key_id": ApiKey.objects.filter(brand=brand).first().pk,
        "job_id": job.pk,
        "tier_id": tier.pk,
        "inbox_id": inbox.pk,
        "conversation_id": conversation.pk,
        "kind": "receipt",
        "row_id": WebhookReceipt.objects.create(
            inbox=inbox, event_id="sweep-1", event_type="message", payload={}, status="failed", error="x"
        ).pk,
        "staff_id": hq_admin.pk,
        "rule_id": CommissionRule.objects.create(brand=brand, rate_bp=100, starts_on=dt.date(2026, 11, 1)).pk,
        "source_id": TrackingSource.objects.create(
            brand=brand, name="官網", prefix=f"sweep{brand.pk}", key_hash="0" * 64
        ).pk,
        "segment_id": Segment.objects.create(
            brand=brand, name="VIP", rule={"field": "tag", "op": "has", "value": "VIP"}
        ).pk,
    }


def url_for(path: str, operation: dict[str, Any], objects: dict[str, int]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            if name not in objects:
                pytest.fail(
                    f"{path}: the sweep has no object for path parameter {name!r}; add one to `objects`"
                )
            path = path.replace("{" + name + "}", str(objects[name]))
    return path


def call(client: f.ApiClient, method: str, url: str, operation: dict[str, Any]):
    """Send `method url` with a body that satisfies the operation's request schema."""
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        form = sample(content["multipart/form-data"]["schema"])
        return client.client.post(url, form, **client._headers())
    body = sample(content["application/json"]["schema"]) if "application/json" in content else {}
    if method == "GET":
        return client.get(url)
    if method == "DELETE":
        return client.delete(url)
    return getattr(client, method.lower())(url, body)


def _json(response) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()


# --- the sweep --------------------------------------------------------------------------------


def test_every_route_refuses_a_request_without_a_key(objects):
    anonymous = f.ApiClient(None)
    failures = []
    for method, path, operation in ROUTES:
        if (method, path) in PUBLIC:
            continue
        response = call(anonymous, method, url_for(path, operation, objects), operation)
        if response.status_code != 401 or _json(response)["code"] != "unauthorized":
            failures.append(f"{method} {path}: {response.status_code}")
    assert failures == []


@pytest.mark.parametrize("token", ["omo_000000000000_not-a-real-key", "not-even-the-format", "revoked"])
def test_every_route_refuses_a_wrong_or_revoked_key(brand, objects, token):
    if token == "revoked":
        token = f.make_api_key(brand)
        prefix = token.removeprefix("omo_").split("_", 1)[0]
        ApiKey.objects.filter(prefix=prefix).update(revoked_at=dt.datetime.now(dt.UTC))
    wrong = f.ApiClient(token)
    failures = []
    for method, path, operation in ROUTES:
        response = call(wrong, method, url_for(path, operation, objects), operation)
        if response.status_code != 401:
            failures.append(f"{method} {path}: {response.status_code}")
    assert failures == []


def test_another_brands_key_gets_404_for_every_object_url(objects, other_api):
    failures = []
    object_routes = [(method, path, operation) for method, path, operation in ROUTES if "{" in path]
    assert object_routes
    for method, path, operation in object_routes:
        response = call(other_api, method, url_for(path, operation, objects), operation)
        if response.status_code != 404 or _json(response)["code"] != "not_found":
            failures.append(f"{method} {path}: {response.status_code} {response.content[:200]!r}")
    assert failures == []


def _rows(body: Any) -> list[dict[str, Any]]:
    """The rows a GET answered: a page's items, a list, or the lists inside one settings resource."""
    if isinstance(body, list):
        return body
    if "items" in body:
        return body["items"]
    return [
        row for value in body.values() if isinstance(value, list) for row in value if isinstance(row, dict)
    ]


def test_another_brands_key_lists_none_of_our_rows(objects, api, other_api, other_brand):
    f.make_customer(other_brand, phone="+886987654321")
    for method, path, _operation in ROUTES:
        if method != "GET" or "{" in path:
            continue
        ours = api.get(path).json()
        theirs = other_api.get(path).json()
        our_ids = {row.get("id") for row in _rows(ours)} - {None}
        their_ids = {row.get("id") for row in _rows(theirs)} - {None}
        assert not our_ids & their_ids, f"GET {path} shows brand A's rows to brand B"


def test_a_clerk_key_may_not_use_any_write_route(objects, clerk_api):
    failures = []
    for method, path, operation in ROUTES:
        if method not in WRITE_METHODS or (method, path) in CLERK_MAY_WRITE:
            continue
        response = call(clerk_api, method, url_for(path, operation, objects), operation)
        body = _json(response)
        if response.status_code != 403 or "may not" not in body["detail"]:
            failures.append(f"{method} {path}: {response.status_code}")
    assert failures == []


def test_a_clerk_key_is_refused_before_the_body_is_read(clerk_api, brand):
    response = clerk_api.post(f"{PREFIX}/orders", raw="{not json")
    assert response.status_code == 403
    assert response.json() == {"detail": "role clerk may not orders.write", "code": "forbidden"}
