"""GET/PATCH /api/v1/settings/inbox and PATCH /api/v1/settings/inbox/stores/{id}: SLA and hours."""

from __future__ import annotations

import pytest

from omo.core.models import AuditLog
from omo.inbox.models import InboxSettings
from omo.staff.models import Store
from omo.testing import factories as f

URL = "/api/v1/settings/inbox"
WEEK = {
    "mon": [["10:00", "21:30"]],
    "tue": [["10:00", "14:00"], ["17:00", "21:30"]],
    "wed": [],
    "thu": [["22:00", "02:00"]],
    "fri": [["10:00", "24:00"]],
    "sat": [],
    "sun": [],
}


def test_default_sla_and_the_stores_hours(api, store):
    body = api.get(URL).json()
    assert body["sla_minutes"] == 10
    assert body["stores"][0]["code"] == store.code
    assert set(body["stores"][0]["opening_hours"]) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert not InboxSettings.objects.exists()


def test_sla_is_set_and_audited(api, brand):
    response = api.patch(URL, {"sla_minutes": 30})
    assert response.status_code == 200, response.content
    assert response.json()["sla_minutes"] == 30
    assert InboxSettings.objects.get(brand=brand).sla_minutes == 30
    log = AuditLog.objects.get(brand=brand, action="inbox_settings.sla_changed")
    assert log.detail == {"before": {"sla_minutes": 10}, "after": {"sla_minutes": 30}}


@pytest.mark.parametrize("minutes", [0, 1441, None])
def test_bad_sla_names_the_field(api, brand, minutes):
    response = api.patch(URL, {"sla_minutes": minutes})
    assert response.status_code == 422
    assert response.json()["field"] == "sla_minutes"
    assert "分鐘" in response.json()["detail"]
    assert not InboxSettings.objects.filter(brand=brand).exists()


def test_store_hours_are_replaced_and_audited(api, brand, store):
    response = api.patch(f"{URL}/stores/{store.pk}", {"opening_hours": WEEK})
    assert response.status_code == 200, response.content
    store.refresh_from_db()
    assert store.opening_hours == WEEK
    assert response.json()["opening_hours"]["wed"] == []
    log = AuditLog.objects.get(brand=brand, action="store.opening_hours_changed")
    assert log.target_id == str(store.pk) and log.detail["after"] == WEEK


@pytest.mark.parametrize(
    ("week", "field"),
    [
        ({"mon": [["25:00", "21:00"]]}, "opening_hours.mon"),
        ({"tue": [["10:00", "10:00"]]}, "opening_hours.tue"),
        ({"sun": [["10:00"]]}, "opening_hours.sun"),
        ({"holiday": []}, "opening_hours.holiday"),
        ({"fri": [["9", "18:00"]]}, "opening_hours.fri"),
    ],
)
def test_bad_hours_name_the_day(api, store, week, field):
    before = store.opening_hours
    response = api.patch(f"{URL}/stores/{store.pk}", {"opening_hours": week})
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    store.refresh_from_db()
    assert store.opening_hours == before


def test_other_brand_cannot_touch_the_store(other_api, store):
    response = other_api.patch(f"{URL}/stores/{store.pk}", {"opening_hours": WEEK})
    assert response.status_code == 404
    assert Store.objects.get(pk=store.pk).opening_hours == store.opening_hours
    assert other_api.get(URL).json()["stores"] == []


@pytest.mark.parametrize("role", ["hq_agent", "store_manager"])
def test_weaker_roles_read_but_may_not_change(brand, store, role):
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store if role == "store_manager" else None))
    assert client.get(URL).status_code == 200
    assert client.patch(URL, {"sla_minutes": 5}).status_code == 403
    assert client.patch(f"{URL}/stores/{store.pk}", {"opening_hours": WEEK}).status_code == 403
    assert not InboxSettings.objects.filter(brand=brand).exists()
    assert Store.objects.get(pk=store.pk).opening_hours == store.opening_hours


def test_hours_stored_before_they_were_checked_do_not_break_the_reading(api, store):
    Store.objects.filter(pk=store.pk).update(
        opening_hours={"mon": [["10:00"], ["10:00", "18:00"]], "tue": "x"}
    )
    body = api.get(URL).json()
    assert body["stores"][0]["opening_hours"]["mon"] == [["10:00", "18:00"]]
    assert body["stores"][0]["opening_hours"]["tue"] == []
