"""Core API: auth errors, API keys, the audit log, OpenAPI and the docs page (no CDN)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from openapi_spec_validator import validate

from omo.core.models import ApiKey, AuditLog
from omo.testing import factories as f


def test_missing_key_is_401_json_with_a_hint(brand):
    response = Client().get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "missing, unknown or revoked API key: send Authorization: Bearer <key>",
        "code": "unauthorized",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_create_use_and_revoke_an_api_key(api, brand):
    created = api.post("/api/v1/api-keys", {"name": "POS 串接", "role": "hq_agent"})
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["name"], data["role"], data["revoked_at"]) == ("POS 串接", "hq_agent", None)
    assert data["secret"].startswith(f"omo_{data['prefix']}_")
    new_api = f.ApiClient(data["secret"])
    assert new_api.get("/api/v1/customers").status_code == 200
    assert new_api.get("/api/v1/api-keys").status_code == 403  # an agent may not manage keys

    revoked = api.post(f"/api/v1/api-keys/{data['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert new_api.get("/api/v1/customers").status_code == 401
    listed = api.get("/api/v1/api-keys").json()
    assert "secret" not in listed["items"][0]
    assert listed["total"] == ApiKey.objects.filter(brand=brand).count() == 2


def test_unknown_role_is_422(api, brand):
    response = api.post("/api/v1/api-keys", {"name": "x", "role": "owner"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "role"


def test_audit_log_lists_the_brands_actions_newest_first(api, brand, other_api):
    api.post("/api/v1/api-keys", {"name": "A"})
    api.post("/api/v1/api-keys", {"name": "B"})
    data = api.get("/api/v1/audit-log", action="api_key.created").json()
    assert data["total"] == 2
    assert [entry["detail"]["name"] for entry in data["items"]] == ["B", "A"]
    assert data["items"][0]["actor_label"].startswith("api_key:")
    assert other_api.get("/api/v1/audit-log", action="api_key.created").json()["total"] == 0
    assert AuditLog.objects.filter(brand=brand, action="api_key.created").count() == 2


def test_openapi_document_is_public_and_complete(brand):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"] == {"BearerKey": {"type": "http", "scheme": "bearer"}}
    assert "/api/v1/orders/batch" in schema["paths"]


def test_openapi_document_is_valid_openapi(brand):
    """Checked by a real OpenAPI validator: a clash of two schema names (two enums both called
    `Status`) once published a product's status as an order's, with a default outside its enum."""
    raw = Client().get("/api/v1/openapi.json").content
    duplicated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in items]
        duplicated.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(items)

    schema = json.loads(raw, object_pairs_hook=pairs)
    # A key twice in one object is legal JSON for Python but breaks the docs page (js-yaml refuses it).
    assert duplicated == []
    validate(schema)  # raises with the path of what is wrong
    statuses = schema["components"]["schemas"]
    assert statuses["ProductStatus"]["enum"] == ["active", "draft", "archived"]
    assert "refunded" in statuses["Status"]["enum"]


def test_two_schemas_with_one_name_are_refused():
    from config.api import SchemaNameClash, StrictOpenAPISchema

    document = StrictOpenAPISchema.__new__(StrictOpenAPISchema)
    document.schemas = {"Kind": {"enum": ["a"], "type": "string"}}
    document.add_schema_definitions({"Kind": {"enum": ["a"], "type": "string"}})  # the same: fine
    with pytest.raises(SchemaNameClash, match="'Kind'"):
        document.add_schema_definitions({"Kind": {"enum": ["b"], "type": "string"}})


def test_docs_page_uses_local_assets_only(brand):
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    asset = Client().get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and asset["Content-Type"] == "text/javascript"
    assert Client().get("/api/v1/docs/assets/../../settings.py").status_code == 404


def test_store_manager_and_clerk_keys_need_their_store_or_clerk(api, brand, store, clerk, other_brand):
    other_store = f.make_store(other_brand, code="ELSE")
    cases = [
        ({"role": "store_manager"}, "store_id"),
        ({"role": "store_manager", "store_id": other_store.pk}, "store_id"),
        ({"role": "store_manager", "store_id": store.pk, "staff_id": clerk.pk}, "staff_id"),
        ({"role": "clerk"}, "staff_id"),
        (
            {"role": "clerk", "staff_id": f.make_user(brand, "boss", role="store_manager", store=store).pk},
            "staff_id",
        ),
        ({"role": "hq_admin", "store_id": store.pk}, "store_id"),
    ]
    for body, field in cases:
        response = api.post("/api/v1/api-keys", {"name": "k", **body})
        assert response.status_code == 422, body
        assert response.json()["field"] == field, (body, response.json())
    assert ApiKey.objects.filter(brand=brand).count() == 1  # only the fixture's key

    created = api.post(
        "/api/v1/api-keys", {"name": "門市 POS", "role": "store_manager", "store_id": store.pk}
    )
    assert created.status_code == 201 and created.json()["store_id"] == store.pk
    created = api.post("/api/v1/api-keys", {"name": "店員", "role": "clerk", "staff_id": clerk.pk})
    assert (created.json()["staff_id"], created.json()["store_id"]) == (clerk.pk, clerk.store_id)


def test_a_clerk_key_sees_the_clerks_own_sales_and_dies_with_the_clerk(api, brand, store, clerk):
    f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)])
    other_clerk = f.make_user(brand, "other-clerk", role="clerk", store=store, employee_code="E777")
    clerk.employee_code = clerk.employee_code or "E001"
    clerk.save(update_fields=["employee_code"])
    for external_id, staff in (("MINE", clerk), ("THEIRS", other_clerk)):
        response = api.post(
            "/api/v1/orders",
            {
                "source": "pos",
                "external_id": external_id,
                "sales_channel": "pos",
                "status": "paid",
                "store_code": store.code,
                "staff_code": staff.employee_code,
                "placed_at": "2026-11-01T10:00:00+08:00",
                "lines": [{"sku": "TEE-M", "quantity": 1, "unit_price": 59000}],
            },
        )
        assert response.status_code in (200, 201), response.content
    clerk_api = f.ApiClient(f.make_api_key(brand, role="clerk", staff=clerk))
    assert [o["external_id"] for o in clerk_api.get("/api/v1/orders").json()["items"]] == ["MINE"]
    clerk.is_active = False
    clerk.save(update_fields=["is_active"])
    assert clerk_api.get("/api/v1/orders").status_code == 401
