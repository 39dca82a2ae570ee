"""Core API: auth errors, API keys, the audit log, OpenAPI and the docs page (no CDN)."""

from __future__ import annotations

from django.test import Client

from omo.core.models import ApiKey, AuditLog
from omo.testing import factories as f


def test_missing_key_is_401_json_with_a_hint(brand):
    response = Client().get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json() == {"detail": "missing, unknown or revoked API key: send Authorization: Bearer <key>",
                               "code": "unauthorized"}
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


def test_docs_page_uses_local_assets_only(brand):
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html
    asset = Client().get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and asset["Content-Type"] == "text/javascript"
    assert Client().get("/api/v1/docs/assets/../../settings.py").status_code == 404
