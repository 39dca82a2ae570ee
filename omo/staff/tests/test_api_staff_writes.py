"""Stores and staff changed through the API: good paths, bad inputs by name, other brands, weaker
roles, and the rules that keep a brand manageable."""

from __future__ import annotations

import pytest

from omo.core import apikeys
from omo.core.models import AuditLog
from omo.staff.models import Store, User
from omo.testing import factories as f

HOURS = {"mon": [["10:00", "21:30"]], "sun": []}


@pytest.fixture
def manager_api(brand, store):
    return f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))


# --- stores -----------------------------------------------------------------------------------


def test_an_admin_opens_edits_and_closes_a_store(api, brand):
    created = api.post(
        "/api/v1/stores",
        {
            "code": "TCH01",
            "name": "台中店",
            "address": "台中市西屯區",
            "phone": "04-1234",
            "opening_hours": HOURS,
        },
    )
    assert created.status_code == 201, created.json()
    store_id = created.json()["id"]
    assert created.json()["opening_hours"] == HOURS

    edited = api.patch(f"/api/v1/stores/{store_id}", {"name": "台中公益店", "phone": "04-5678"})
    assert (edited.json()["name"], edited.json()["phone"]) == ("台中公益店", "04-5678")
    closed = api.patch(f"/api/v1/stores/{store_id}", {"is_active": False})
    assert closed.json()["is_active"] is False
    actions = list(
        AuditLog.objects.filter(brand=brand, target_id=str(store_id)).values_list("action", flat=True)
    )
    assert sorted(actions) == ["store.created", "store.deactivated", "store.updated"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"code": "TPE01", "name": "重複"}, "code", 409),
        ({"code": "有 空格", "name": "x"}, "code", 422),
        ({"code": "N1", "name": "x", "opening_hours": {"holiday": []}}, "opening_hours", 422),
        ({"code": "N1", "name": "x", "opening_hours": {"mon": [["22:00", "10:00"]]}}, "opening_hours", 422),
        ({"code": "N1", "name": "x", "opening_hours": {"mon": [["9am", "5pm"]]}}, "opening_hours", 422),
        ({"code": "N1", "name": "   "}, "name", 422),
    ],
)
def test_bad_store_inputs_are_named(api, store, body, field, status):
    response = api.post("/api/v1/stores", body)
    assert response.status_code == status, response.json()
    assert response.json()["field"] == field
    assert Store.objects.count() == 1


def test_store_writes_are_for_hq_admins_of_the_brand(api, other_api, manager_api, store):
    assert manager_api.post("/api/v1/stores", {"code": "X1", "name": "x"}).status_code == 403
    assert manager_api.patch(f"/api/v1/stores/{store.pk}", {"name": "x"}).status_code == 403
    assert other_api.patch(f"/api/v1/stores/{store.pk}", {"name": "x"}).status_code == 404
    store.refresh_from_db()
    assert store.name == "台北信義店"


# --- staff ------------------------------------------------------------------------------------


def test_an_admin_adds_a_clerk_with_a_generated_password(api, brand, store):
    created = api.post(
        "/api/v1/staff",
        {
            "username": "amy.chen",
            "role": "clerk",
            "store_id": store.pk,
            "display_name": "陳雅美",
            "employee_code": "E100",
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["initial_password"] and body["store_id"] == store.pk
    member = User.objects.get(pk=body["id"])
    assert member.check_password(body["initial_password"]) and member.brand_id == brand.pk
    assert AuditLog.objects.get(action="staff.created").detail["username"] == "amy.chen"
    assert "initial_password" not in str(AuditLog.objects.get(action="staff.created").detail)


def test_an_admin_adds_an_hq_agent_with_a_chosen_password(api):
    created = api.post(
        "/api/v1/staff", {"username": "agent.lin", "role": "hq_agent", "password": "Forest-Tea-2026"}
    )
    assert created.status_code == 201 and created.json()["initial_password"] is None
    assert User.objects.get(username="agent.lin").check_password("Forest-Tea-2026")


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"username": "clerk-herb", "role": "clerk"}, "username", 409),  # taken (the clerk fixture)
        ({"username": "new one!", "role": "clerk"}, "username", 422),
        ({"username": "newclerk", "role": "clerk"}, "store_id", 422),
        ({"username": "newclerk", "role": "hq_agent", "store_id": 0}, "store_id", 422),
        ({"username": "newclerk", "role": "clerk", "store_id": 999999}, "store_id", 422),
        ({"username": "newclerk", "role": "clerk", "employee_code": "E001"}, "employee_code", 409),
        ({"username": "newclerk", "role": "clerk", "email": "not-an-email"}, "email", 422),
        ({"username": "newclerk", "role": "clerk", "password": "123"}, "password", 422),
    ],
)
def test_bad_staff_inputs_are_named(api, clerk, store, body, field, status):
    if "store_id" not in body and field != "store_id":
        body = {**body, "store_id": store.pk}
    before = User.objects.count()
    response = api.post("/api/v1/staff", body)
    assert response.status_code == status, response.json()
    assert response.json()["field"] == field
    assert User.objects.count() == before


def test_a_manager_adds_and_edits_only_their_own_stores_clerks(manager_api, brand, store, other_store, clerk):
    own = manager_api.post("/api/v1/staff", {"username": "newclerk", "role": "clerk", "store_id": store.pk})
    assert own.status_code == 201
    for body in (
        {"username": "elsewhere", "role": "clerk", "store_id": other_store.pk},
        {"username": "boss", "role": "store_manager", "store_id": store.pk},
        {"username": "hqx", "role": "hq_admin"},
    ):
        assert manager_api.post("/api/v1/staff", body).status_code == 403, body
    assert (
        manager_api.patch(f"/api/v1/staff/{clerk.pk}", {"display_name": "小美"}).json()["display_name"]
        == "小美"
    )
    assert manager_api.patch(f"/api/v1/staff/{clerk.pk}", {"role": "store_manager"}).status_code == 403
    assert manager_api.patch(f"/api/v1/staff/{clerk.pk}", {"store_id": other_store.pk}).status_code == 403
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    assert manager_api.patch(f"/api/v1/staff/{far.pk}", {"display_name": "x"}).status_code == 404
    assert not User.objects.filter(username__in=["elsewhere", "boss", "hqx"]).exists()


def test_deactivating_a_clerk_stops_their_keys_and_keeps_them_listed(api, brand, clerk):
    secret = f.make_api_key(brand, role="clerk", staff=clerk)

    response = api.patch(f"/api/v1/staff/{clerk.pk}", {"is_active": False})

    assert response.status_code == 200 and response.json()["is_active"] is False
    assert apikeys.authenticate(secret) is None
    assert clerk.pk in {row["id"] for row in api.get("/api/v1/staff").json()["items"]}
    assert AuditLog.objects.filter(action="staff.deactivated", target_id=str(clerk.pk)).exists()


def test_an_admin_moves_a_clerk_and_promotes_them(api, clerk, other_store):
    moved = api.patch(f"/api/v1/staff/{clerk.pk}", {"store_id": other_store.pk})
    assert moved.json()["store_id"] == other_store.pk
    promoted = api.patch(f"/api/v1/staff/{clerk.pk}", {"role": "hq_agent"})
    assert (promoted.json()["role"], promoted.json()["store_id"]) == ("hq_agent", None)


def test_the_last_hq_admin_is_kept_when_no_admin_key_is_left(brand, hq_admin):
    from omo.core.audit import Actor
    from omo.staff import services

    other = f.make_user(brand, "admin2", role="hq_admin")
    services.update_staff(other, actor=Actor(brand=brand, user=hq_admin, role="hq_admin"), is_active=False)
    with pytest.raises(services.StaffError) as refused:
        services.update_staff(hq_admin, actor=Actor.system(brand), role="hq_agent")
    assert refused.value.code == "last_admin"
    with pytest.raises(services.StaffError) as self_refused:
        services.update_staff(
            hq_admin, actor=Actor(brand=brand, user=hq_admin, role="hq_admin"), is_active=False
        )
    assert self_refused.value.code == "self"
    hq_admin.refresh_from_db()
    assert (hq_admin.role, hq_admin.is_active) == ("hq_admin", True)


def test_bad_patch_values_are_named(api, clerk):
    assert api.patch(f"/api/v1/staff/{clerk.pk}", {"email": "nope"}).json()["field"] == "email"
    assert api.patch(f"/api/v1/staff/{clerk.pk}", {"store_id": None}).json()["field"] == "store_id"


def test_other_brands_and_clerks_are_refused(other_api, clerk_api, clerk, store):
    assert other_api.patch(f"/api/v1/staff/{clerk.pk}", {"display_name": "x"}).status_code == 404
    assert other_api.get(f"/api/v1/staff/{clerk.pk}").status_code == 404
    assert (
        clerk_api.post(
            "/api/v1/staff", {"username": "x12", "role": "clerk", "store_id": store.pk}
        ).status_code
        == 403
    )
    assert clerk_api.patch(f"/api/v1/staff/{clerk.pk}", {"display_name": "x"}).status_code == 403
