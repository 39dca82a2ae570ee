"""/api/v1/inboxes: connect a LINE official account and manage it, against the LINE stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from omo.core.models import AuditLog
from omo.inbox.models import Inbox
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
URL = "/api/v1/inboxes"


@pytest.fixture
def new_channel(line_standin: Any) -> Any:
    return line_standin.add_channel(display_name="草本生活", basic_id="@herbshop")


def _body(channel: Any, **kw: Any) -> dict[str, Any]:
    return {
        "channel_id": channel.channel_id,
        "channel_secret": channel.channel_secret,
        "access_token": channel.access_token,
        **kw,
    }


def test_connect_list_read_patch_delete(api, new_channel, line_standin, settings):
    settings.BASE_URL = "http://127.0.0.1:8000"

    created = api.post(URL, _body(new_channel, plan_included=3000, plan_extra_price=20))

    assert created.status_code == 201, created.content
    body = created.json()
    inbox_id = body["inbox_id"]
    assert body["webhook_url"] == f"http://127.0.0.1:8000/webhooks/line/{inbox_id}"
    assert body["bot"] == {"display_name": "草本生活", "basic_id": "@herbshop"}
    assert body["webhook_set"] is False
    assert body["webhook_test"] is None
    assert "not HTTPS" in body["notes"][0]
    token = new_channel.access_token
    assert body["inbox"]["secrets"] == {
        "channel_secret_set": True,
        "access_token_set": True,
        "access_token_last4": token[-4:],
    }
    assert token not in created.content.decode()
    assert new_channel.channel_secret not in created.content.decode()

    listed = api.get(URL).json()
    assert [row["id"] for row in listed] == [inbox_id]
    one = api.get(f"{URL}/{inbox_id}").json()
    assert one["plan"] == {"included": 3000, "extra_price": 20}
    assert one["last_webhook"]["outcome"] == "none"
    assert token not in str(listed) + str(one)

    patched = api.patch(
        f"{URL}/{inbox_id}", {"name": "草本 LINE", "liff_id": "2000000009-AbCdEfGh", "plan_extra_price": 15}
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["liff_id"]) == ("草本 LINE", "2000000009-AbCdEfGh")
    assert patched.json()["plan"] == {"included": 3000, "extra_price": 15}

    assert api.delete(f"{URL}/{inbox_id}").status_code == 204
    assert Inbox.objects.get(pk=inbox_id).is_active is False
    again = api.patch(f"{URL}/{inbox_id}", {"is_active": True})
    assert again.json()["is_active"] is True
    actions = set(AuditLog.objects.filter(target_id=str(inbox_id)).values_list("action", flat=True))
    assert actions == {"inbox.line_connected", "inbox.updated", "inbox.disconnected", "inbox.reconnected"}


def test_wrong_token_is_a_clear_error_and_saves_nothing(api, new_channel, line_standin):
    line_standin.revoke_token(new_channel.access_token)

    response = api.post(URL, _body(new_channel))

    assert response.status_code == 422
    assert response.json()["field"] == "access_token"
    assert "401" in response.json()["detail"]
    assert not Inbox.objects.exists()


def test_duplicate_channel_is_a_conflict_for_any_brand(api, other_api, new_channel):
    assert api.post(URL, _body(new_channel)).status_code == 201

    again = api.post(URL, _body(new_channel))
    elsewhere = other_api.post(URL, _body(new_channel))

    assert (again.status_code, again.json()["code"], again.json()["field"]) == (409, "conflict", "channel_id")
    assert elsewhere.status_code == 409
    assert "another brand" in elsewhere.json()["detail"]
    assert Inbox.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel_secret": "short"}, "channel_secret"),
        ({"channel_id": "12ab"}, "channel_id"),
        ({"liff_id": "bad"}, "liff_id"),
    ],
)
def test_bad_bodies_name_the_field(api, new_channel, line_standin, change, field):
    response = api.post(URL, _body(new_channel, **change))

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert line_standin.calls() == []


def test_missing_fields_and_wrong_types_are_refused(api, new_channel):
    assert api.post(URL, {"channel_id": new_channel.channel_id}).status_code == 422
    assert api.post(URL, _body(new_channel, plan_included=-5)).status_code == 422
    assert api.post(URL, _body(new_channel, platform="messenger")).status_code == 422
    assert not Inbox.objects.exists()


def test_rotating_to_a_revoked_token_keeps_the_old_one(api, new_channel, line_standin):
    inbox_id = api.post(URL, _body(new_channel)).json()["inbox_id"]

    response = api.patch(f"{URL}/{inbox_id}", {"access_token": "not-a-live-token"})

    assert response.status_code == 422
    assert Inbox.objects.get(pk=inbox_id).secrets["access_token"] == new_channel.access_token


@pytest.mark.parametrize("role", ["store_manager", "hq_agent", "clerk"])
def test_weaker_roles_are_refused(brand, store, new_channel, role):
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store if role == "store_manager" else None))
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", external_id="1000000001")

    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/{inbox.pk}").status_code == 403
    assert client.post(URL, _body(new_channel)).status_code == 403
    assert client.delete(f"{URL}/{inbox.pk}").status_code == 403
    assert Inbox.objects.get(pk=inbox.pk).is_active is True


def test_another_brand_sees_nothing(brand, other_api):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", external_id="1000000001")

    assert other_api.get(URL).json() == []
    assert other_api.get(f"{URL}/{inbox.pk}").status_code == 404
    assert other_api.patch(f"{URL}/{inbox.pk}", {"name": "x"}).status_code == 404
    assert other_api.delete(f"{URL}/{inbox.pk}").status_code == 404
    assert Inbox.objects.get(pk=inbox.pk).is_active is True
