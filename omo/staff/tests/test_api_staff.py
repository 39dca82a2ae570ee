"""Stores, locations and staff over the REST API."""

from __future__ import annotations

from omo.testing import factories as f


def test_stores_and_locations(api, brand, store, other_store, warehouse):
    stores = api.get("/api/v1/stores").json()
    assert stores["total"] == 2
    assert [(s["code"], s["name"], s["city"]) for s in stores["items"]] == [
        ("KHH01", "高雄夢時代店", "高雄市"),
        ("TPE01", "台北信義店", "台北市"),
    ]
    assert api.get(f"/api/v1/stores/{store.pk}").json()["opening_hours"]["mon"] == [["11:00", "21:30"]]
    locations = api.get("/api/v1/locations").json()["items"]
    assert [(loc["code"], loc["kind"], loc["ships_online_orders"]) for loc in locations] == [
        ("KHH01", "store", False),
        ("TPE01", "store", False),
        ("WH", "warehouse", True),
    ]


def test_staff_list_filters_and_scope(api, brand, store, hq_admin, clerk, manager):
    data = api.get("/api/v1/staff", role="clerk").json()
    assert [(s["username"], s["employee_code"], s["store_id"]) for s in data["items"]] == [
        (clerk.username, "E001", store.pk),
    ]
    assert api.get("/api/v1/staff", store_id=store.pk).json()["total"] == 2
    manager_api = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))
    assert {s["username"] for s in manager_api.get("/api/v1/staff").json()["items"]} == {
        clerk.username,
        manager.username,
    }


def test_clerk_may_not_list_staff(clerk_api, brand):
    response = clerk_api.get("/api/v1/staff")
    assert response.status_code == 403
    assert response.json()["detail"] == "role clerk may not staff.read"
