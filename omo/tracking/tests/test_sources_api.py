"""Tracking sources through the API and the console: create (key shown once), list with activity,
revoke (then /v1/* answers 401), the shop's own source guarded, other brands and weaker roles refused."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.test import Client

from omo.core.models import AuditLog
from omo.testing import factories as f
from omo.tracking import services
from omo.tracking.models import TrackedEvent, TrackingSource

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
URL = "/api/v1/tracking/sources"


def _event(source: TrackingSource, n: int, received_at: dt.datetime) -> None:
    TrackedEvent.objects.create(
        brand_id=source.brand_id,
        source=source,
        type="track",
        event="Product Viewed",
        message_id=f"m{n}",
        anonymous_id="anon-12345678",
        received_at=received_at,
        timestamp=received_at,
    )


@pytest.mark.time_machine(NOW, tick=False)
def test_an_admin_creates_a_source_and_sees_its_key_once(api, brand):
    response = api.post(URL, {"name": "官網", "kind": "server"})

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["kind"], body["shop"], body["events_24h"]) == ("官網", "server", False, 0)
    assert body["write_key"].startswith(f"wk_{body['prefix']}_")
    assert services.authenticate(body["write_key"]).pk == body["id"]
    listed = api.get(URL).json()
    assert listed["total"] == 1 and "write_key" not in listed["items"][0]
    assert AuditLog.objects.filter(brand=brand, action="tracking_source.created").count() == 1


@pytest.mark.time_machine(NOW, tick=False)
def test_the_list_counts_the_last_24_hours_per_source(api, brand):
    source, _ = services.create_source(brand, name="POS", kind="pos", actor=None)
    quiet, _ = services.create_source(brand, name="App", kind="app", actor=None)
    _event(source, 1, NOW - dt.timedelta(hours=1))
    _event(source, 2, NOW - dt.timedelta(hours=23, minutes=59))
    _event(source, 3, NOW - dt.timedelta(hours=25))

    items = {row["name"]: row for row in api.get(URL).json()["items"]}

    assert items["POS"]["events_24h"] == 2
    assert items["App"]["events_24h"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": ""}, "name"), ({"name": "x" * 121}, "name"), ({"name": "官網", "kind": "fax"}, "kind")],
)
def test_bad_inputs_are_refused_by_name(api, body, field):
    response = api.post(URL, body)

    assert response.status_code == 422
    assert field in str(response.json())
    assert not TrackingSource.objects.exists()


def test_the_service_names_a_blank_name_and_an_unknown_kind(brand):
    with pytest.raises(services.SourceError) as blank:
        services.create_source(brand, name="   ", actor=None)
    with pytest.raises(services.SourceError) as kind:
        services.create_source(brand, name="官網", kind="fax", actor=None)
    assert (blank.value.field, kind.value.field) == ("name", "kind")


@pytest.mark.parametrize("how", ["delete", "post"])
def test_revoking_a_source_stops_its_key(api, brand, client, how):
    source, key = services.create_source(brand, name="官網", actor=None)
    path = f"{URL}/{source.pk}"
    response = api.delete(path) if how == "delete" else api.post(f"{path}/revoke")

    assert response.status_code == 200 and response.json()["revoked_at"] is not None
    refused = client.post(
        "/v1/track",
        {"anonymousId": "anon-12345678", "event": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(key),
    )
    assert refused.status_code == 401
    assert AuditLog.objects.filter(brand=brand, action="tracking_source.revoked").count() == 1


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def test_the_shops_own_source_is_listed_marked_and_needs_a_confirmation(api, brand):
    shop = services.ensure_source(brand, name="網路商店（內建）", prefix="sabc", secret="wk_sabc_0123456789")

    row = api.get(URL).json()["items"][0]
    assert (row["name"], row["shop"]) == ("網路商店（內建）", True)

    refused = api.delete(f"{URL}/{shop.pk}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "shop_source" and refused.json()["field"] == "confirm_shop"
    shop.refresh_from_db()
    assert shop.revoked_at is None

    assert api.delete(f"{URL}/{shop.pk}?confirm_shop=true").status_code == 200
    shop.refresh_from_db()
    assert shop.revoked_at is not None


def test_another_brand_and_weaker_keys_are_refused(api, other_api, brand):
    source, _ = services.create_source(brand, name="官網", actor=None)

    assert other_api.get(URL).json()["total"] == 0
    assert other_api.delete(f"{URL}/{source.pk}").status_code == 404
    for role, kwargs in (("hq_agent", {}), ("clerk", {})):
        weaker = f.ApiClient(f.make_api_key(brand, role=role, **kwargs))
        assert weaker.get(URL).status_code == 403
        assert weaker.post(URL, {"name": "x"}).status_code == 403
        assert weaker.delete(f"{URL}/{source.pk}").status_code == 403
    source.refresh_from_db()
    assert source.revoked_at is None


# --- console ----------------------------------------------------------------------------------


def test_the_console_creates_lists_and_revokes(console, brand):
    page = console.post("/console/settings/tracking/new/", {"name": "門市 POS", "kind": "pos"})

    assert page.status_code == 200
    source = TrackingSource.objects.get(brand=brand)
    html = page.content.decode()
    assert f"wk_{source.prefix}_" in html and "omo-track.js" in html and "curl -X POST" in html
    assert page["Cache-Control"].startswith("max-age=0")
    listing = console.get("/console/settings/tracking/").content.decode()
    assert "門市 POS" in listing and f"wk_{source.prefix}_…" in listing
    assert f"wk_{source.prefix}_" + "x" not in listing

    console.post(f"/console/settings/tracking/{source.pk}/revoke/")
    source.refresh_from_db()
    assert source.revoked_at is not None


def test_the_console_refuses_a_blank_name(console):
    page = console.post("/console/settings/tracking/new/", {"name": "", "kind": "web"})
    assert page.status_code == 200 and not TrackingSource.objects.exists()


def test_the_console_keeps_the_shop_source_unless_confirmed(console, brand):
    shop = services.ensure_source(brand, name="網路商店（內建）", prefix="sabc", secret="wk_sabc_0123456789")
    assert "網路商店自有" in console.get("/console/settings/tracking/").content.decode()

    console.post(f"/console/settings/tracking/{shop.pk}/revoke/")
    shop.refresh_from_db()
    assert shop.revoked_at is None
    console.post(f"/console/settings/tracking/{shop.pk}/revoke/", {"confirm_shop": "1"})
    shop.refresh_from_db()
    assert shop.revoked_at is not None


def test_weaker_console_roles_and_other_brands_are_refused(brand, manager, hq_agent, other_admin):
    source, _ = services.create_source(brand, name="官網", actor=None)
    for user in (manager, hq_agent):
        client = Client()
        client.force_login(user)
        assert client.get("/console/settings/tracking/").status_code == 403
    client = Client()
    client.force_login(other_admin)
    assert client.post(f"/console/settings/tracking/{source.pk}/revoke/").status_code == 404
    source.refresh_from_db()
    assert source.revoked_at is None
