"""/api/v1/bindings and /api/v1/bindings/transfers: scope by key role, tenancy, the 30-day undo."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.binding import selectors, services
from omo.binding.models import Transfer
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.testing import factories as f
from omo.testing.clock import TAIPEI

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(brand, store, other_store, clerk):
    """`clerk` (台北) with two customers, 阿美 (台北) with one, 高雄's 小林 with one."""
    amei = f.make_user(brand, "amei", role="clerk", store=store, display_name="阿美")
    lin = f.make_user(brand, "lin", role="clerk", store=other_store, display_name="小林")
    customers = {}
    for n, (name, who) in enumerate([("甲", clerk), ("乙", clerk), ("丙", amei), ("丁", lin)]):
        customer = f.make_customer(brand, name=name, phone=f"+88693310000{n}")
        services.bind_customer(customer, who, source="manual")
        customers[name] = customer
    return amei, lin, customers


def names(response):
    return sorted(row["staff_name"] for row in response.json()["items"])


def test_bindings_are_filtered_and_scoped_by_the_keys_role(brand, store, clerk, api, other_api, shop):
    amei, lin, customers = shop
    everything = api.get("/api/v1/bindings")
    assert everything.status_code == 200 and everything.json()["total"] == 4
    assert names(api.get("/api/v1/bindings", staff_id=clerk.pk)) == ["clerk", "clerk"]
    assert names(api.get("/api/v1/bindings", store_id=store.pk)) == ["clerk", "clerk", "阿美"]
    by_customer = api.get("/api/v1/bindings", customer_id=customers["丁"].pk).json()["items"]
    assert [(row["staff_id"], row["active"], row["source"]) for row in by_customer] == [
        (lin.pk, True, "manual")
    ]
    services.end_binding(selectors.current_binding(customers["丁"]), actor=Actor.system(brand))
    assert api.get("/api/v1/bindings", active="false").json()["total"] == 1
    assert api.get("/api/v1/bindings", active="true").json()["total"] == 3

    clerk_key = f.ApiClient(f.make_api_key(brand, role="clerk", staff=amei))
    assert names(clerk_key.get("/api/v1/bindings")) == ["阿美"]
    assert clerk_key.get("/api/v1/bindings", staff_id=clerk.pk).json()["total"] == 0
    manager_key = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))
    assert names(manager_key.get("/api/v1/bindings")) == ["clerk", "clerk", "阿美"]
    assert other_api.get("/api/v1/bindings").json()["total"] == 0


def test_transfer_spread_list_and_undo_over_the_api(brand, store, clerk, api, shop):
    amei, _, customers = shop
    bee = f.make_user(brand, "bee", role="clerk", store=store, display_name="小蜂")
    made = api.post(
        "/api/v1/bindings/transfers",
        {"from_staff_id": clerk.pk, "spread": True, "reason": "離職", "notify": False},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["mode"], body["customer_count"], body["to_store_id"], body["can_undo"]) == (
        "spread",
        2,
        store.pk,
        True,
    )
    # 小蜂 has none, 阿美 one: 小蜂 gets the first, then the tie (1–1) goes to the lower id (阿美)
    assert [move["to_staff_id"] for move in body["moves"]] == [bee.pk, amei.pk]

    listed = api.get("/api/v1/bindings/transfers").json()
    assert (
        listed["total"] == 1 and listed["items"][0]["id"] == body["id"] and listed["items"][0]["by"] == "API"
    )

    undone = api.post(f"/api/v1/bindings/transfers/{body['id']}/undo?notify=false", {})
    assert undone.status_code == 200, undone.content
    assert sorted(undone.json()["restored_customer_ids"]) == sorted([customers["甲"].pk, customers["乙"].pk])
    assert undone.json()["transfer"]["undone_at"] is not None
    again = api.post(f"/api/v1/bindings/transfers/{body['id']}/undo", {})
    assert (again.status_code, again.json()["code"]) == (409, "already_undone")


def test_transfer_to_one_clerk_with_chosen_customers(brand, clerk, api, shop):
    amei, _, customers = shop
    made = api.post(
        "/api/v1/bindings/transfers",
        {
            "from_staff_id": clerk.pk,
            "to_staff_id": amei.pk,
            "customer_ids": [customers["乙"].pk],
            "notify": False,
        },
    )
    assert made.status_code == 201
    assert selectors.current_binding(customers["乙"]).clerk == amei
    assert selectors.current_binding(customers["甲"]).clerk == clerk
    log = AuditLog.objects.get(action="binding.transferred")
    assert log.detail["customers"] == [customers["乙"].pk] and log.actor_label.startswith("api_key:")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, None),
        ({"to_staff_id": "self"}, 400, "same_clerk"),
        ({"spread": True, "to_staff_id": "amei"}, 400, "one_target"),
        ({"to_staff_id": 999999}, 404, None),
        ({"to_store_id": 999999}, 404, None),
        ({"to_staff_id": "amei", "customer_ids": [999999]}, 400, "not_bound"),
        ({"to_staff_id": "amei", "customer_ids": []}, 400, "no_customers_chosen"),
    ],
)
def test_bad_transfer_requests_are_named_and_change_nothing(clerk, api, shop, body, status, code):
    amei, _, _ = shop
    fill = {"self": clerk.pk, "amei": amei.pk}
    body = {key: fill.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    if body or code:
        body = {"from_staff_id": clerk.pk, "notify": False, **body}
    response = api.post("/api/v1/bindings/transfers", body)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    assert not Transfer.objects.exists() and selectors.bound_bindings(clerk).count() == 2


def test_weaker_roles_and_other_brands_are_refused(brand, store, other_store, clerk, other_api, shop):
    amei, lin, _ = shop
    body = {"from_staff_id": clerk.pk, "to_staff_id": amei.pk, "notify": False}
    for role in ("clerk", "hq_agent"):
        weaker = f.ApiClient(f.make_api_key(brand, role=role))
        assert weaker.post("/api/v1/bindings/transfers", body).status_code == 403
        assert weaker.get("/api/v1/bindings/transfers").status_code == 403
    far_manager = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))
    assert far_manager.post("/api/v1/bindings/transfers", body).status_code == 403
    assert (
        far_manager.post(
            "/api/v1/bindings/transfers", {"from_staff_id": lin.pk, "to_staff_id": amei.pk}
        ).status_code
        == 403
    )  # its own clerk, but to another store's clerk
    assert other_api.post("/api/v1/bindings/transfers", body).status_code == 404
    assert not Transfer.objects.exists()

    manager = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))
    made = manager.post("/api/v1/bindings/transfers", body)
    assert made.status_code == 201
    transfer_id = made.json()["id"]
    assert far_manager.get("/api/v1/bindings/transfers").json()["total"] == 0
    assert other_api.get("/api/v1/bindings/transfers").json()["total"] == 0
    assert far_manager.post(f"/api/v1/bindings/transfers/{transfer_id}/undo", {}).status_code == 404
    assert other_api.post(f"/api/v1/bindings/transfers/{transfer_id}/undo", {}).status_code == 404
    assert Transfer.objects.get().undone_at is None


def test_undo_over_the_api_ends_after_30_days(brand, clerk, api, shop, time_machine):
    amei, _, _ = shop
    start = dt.datetime(2027, 4, 1, 9, 0, tzinfo=TAIPEI)
    time_machine.move_to(start, tick=False)
    made = api.post(
        "/api/v1/bindings/transfers", {"from_staff_id": clerk.pk, "to_staff_id": amei.pk, "notify": False}
    )
    transfer_id = made.json()["id"]
    assert made.json()["undo_until"].startswith("2027-05-01")

    time_machine.move_to(start + dt.timedelta(days=30, minutes=1), tick=False)
    listed = api.get("/api/v1/bindings/transfers").json()["items"][0]
    assert listed["can_undo"] is False
    late = api.post(f"/api/v1/bindings/transfers/{transfer_id}/undo", {})
    assert (late.status_code, late.json()["code"]) == (409, "undo_expired")
    assert selectors.bound_bindings(amei).count() == 3
