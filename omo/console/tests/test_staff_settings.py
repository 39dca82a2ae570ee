"""設定 → 門市 / 員工 in the console: open, edit and close stores; add, edit and deactivate staff, with
the store manager limited to their own store's clerks."""

from __future__ import annotations

import pytest
from django.test import Client

from omo.core.models import AuditLog
from omo.staff.models import Store, User
from omo.testing import factories as f


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


STORE = {
    "code": "TCH01",
    "name": "台中店",
    "address": "台中市西屯區",
    "phone": "04-1234",
    "is_active": "on",
    "hours_mon": "10:00-14:00, 15:00-21:30",
    "hours_sun": "",
}


def test_an_admin_opens_a_store_with_opening_hours(console, brand):
    response = console.post("/console/settings/stores/new/", STORE)

    assert response.status_code == 302
    store = Store.objects.get(brand=brand, code="TCH01")
    assert store.opening_hours == {"mon": [["10:00", "14:00"], ["15:00", "21:30"]]}
    assert AuditLog.objects.filter(action="store.created", target_id=str(store.pk)).exists()
    assert "台中店" in console.get("/console/settings/stores/").content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": "TPE01"}, "already used"),
        ({"hours_tue": "9 to 5"}, "10:00-21:30"),
        ({"hours_tue": "21:00-10:00"}, "must be before"),
    ],
)
def test_bad_store_inputs_are_shown_and_nothing_is_saved(console, store, change, message):
    response = console.post("/console/settings/stores/new/", {**STORE, **change})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Store.objects.count() == 1


def test_an_admin_edits_and_closes_a_store(console, store, clerk):
    page = console.get(f"/console/settings/stores/{store.pk}/").content.decode()
    assert 'value="11:00-21:30"' in page and "1 位在職員工" in page

    data = {**STORE, "code": store.code, "name": "信義旗艦店", "hours_mon": "11:00-21:30"}
    data.pop("is_active")
    assert console.post(f"/console/settings/stores/{store.pk}/", data).status_code == 302
    store.refresh_from_db()
    assert (store.name, store.is_active) == ("信義旗艦店", False)
    clerk.refresh_from_db()
    assert clerk.is_active  # closing a store deactivates nobody


def test_an_admin_adds_a_clerk_and_sees_the_password_once(console, brand, store):
    response = console.post(
        "/console/settings/staff/new/",
        {
            "username": "amy.chen",
            "display_name": "陳雅美",
            "role": "clerk",
            "store": store.pk,
            "employee_code": "E100",
        },
    )

    assert response.status_code == 200
    member = User.objects.get(username="amy.chen")
    shown = response.content.decode().split('id="initial-password">')[1].split("<")[0]
    assert member.check_password(shown) and member.brand_id == brand.pk
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_clerk_with_a_chosen_password_goes_back_to_the_list(console, store):
    response = console.post(
        "/console/settings/staff/new/",
        {"username": "ben.lin", "role": "clerk", "store": store.pk, "password": "Forest-Tea-2026"},
    )
    assert response.status_code == 302
    assert User.objects.get(username="ben.lin").check_password("Forest-Tea-2026")


def test_bad_staff_inputs_are_named(console, clerk, store):
    taken = console.post(
        "/console/settings/staff/new/", {"username": clerk.username, "role": "clerk", "store": store.pk}
    )
    no_store = console.post("/console/settings/staff/new/", {"username": "newone", "role": "clerk"})

    assert "is taken" in taken.content.decode()
    assert "needs the store" in no_store.content.decode()
    assert not User.objects.filter(username="newone").exists()


def test_deactivating_a_clerk_shows_their_bindings_and_keeps_them(console, brand, clerk, store):
    page = console.get(f"/console/settings/staff/{clerk.pk}/").content.decode()
    assert "目前綁定 0 位顧客" in page

    response = console.post(
        f"/console/settings/staff/{clerk.pk}/",
        {"display_name": "clerk", "role": "clerk", "store": store.pk, "employee_code": "E001"},
    )

    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.is_active is False
    assert AuditLog.objects.filter(action="staff.deactivated", target_id=str(clerk.pk)).exists()


def test_a_manager_manages_their_own_stores_clerks_only(manager, clerk, brand, store, other_store, hq_admin):
    client = _as(manager)
    listing = client.get("/console/settings/staff/").content.decode()
    assert f"/console/settings/staff/{clerk.pk}/" in listing
    assert f"/console/settings/staff/{manager.pk}/" not in listing

    created = client.post(
        "/console/settings/staff/new/", {"username": "newclerk", "role": "clerk", "store": store.pk}
    )
    assert created.status_code == 200 and User.objects.get(username="newclerk").store_id == store.pk
    elsewhere = client.post(
        "/console/settings/staff/new/", {"username": "farclerk", "role": "clerk", "store": other_store.pk}
    )
    assert elsewhere.status_code == 200 and not User.objects.filter(username="farclerk").exists()
    boss = client.post("/console/settings/staff/new/", {"username": "boss1", "role": "hq_admin"})
    assert not User.objects.filter(username="boss1").exists() and boss.status_code == 200

    assert client.get(f"/console/settings/staff/{hq_admin.pk}/").status_code == 404
    assert client.get(f"/console/settings/staff/{manager.pk}/").status_code == 403
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    assert client.post(f"/console/settings/staff/{far.pk}/", {"display_name": "x"}).status_code == 404
    assert client.get("/console/settings/stores/new/").status_code == 403


def test_an_admin_cannot_deactivate_themselves(console, hq_admin):
    response = console.post(
        f"/console/settings/staff/{hq_admin.pk}/", {"display_name": "admin", "role": "hq_admin"}
    )
    assert response.status_code == 200 and "cannot deactivate or demote yourself" in response.content.decode()
    hq_admin.refresh_from_db()
    assert hq_admin.is_active
