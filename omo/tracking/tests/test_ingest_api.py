"""The Segment HTTP API: auth, every call, limits, ids, duplicates, clock skew, gzip, batches."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from omo.core.edge import run_in_calling_thread
from omo.testing import factories as f
from omo.testing.line import call_asgi
from omo.tracking import services
from omo.tracking.edge import SourceCache, TrackingEdge
from omo.tracking.models import TrackedEvent


@pytest.fixture
def source(brand):
    return services.create_source(brand, name="web", actor=None)


@pytest.fixture
def write_key(source):
    return source[1]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


# Every test runs twice: through the Django view (all in the request) and through the ASGI edge
# (omo/tracking/edge.py), whose stored calls the worker's step then turns into events. Same
# answers and same stored events prove that the two paths keep one contract.
TRANSPORT = "view"


@pytest.fixture(autouse=True, params=["view", "edge"])
def transport(request, monkeypatch):
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "TRANSPORT", request.param)
    return request.param


@dataclass
class EdgeResponse:
    status_code: int
    body: dict

    def json(self) -> dict:
        return self.body


def post(path: str, body, key: str | None = None, *, raw: bytes | None = None, **headers):
    data = raw if raw is not None else json.dumps(body).encode()
    if TRANSPORT == "edge":
        asgi_headers = {k.replace("_", "-"): v for k, v in headers.items()}
        asgi_headers["content-type"] = "application/json"
        if key is not None:
            asgi_headers["authorization"] = basic(key)
        edge = TrackingEdge(None, run_db=run_in_calling_thread, cache=SourceCache())
        status, answer = async_to_sync(call_asgi)(edge, path, data, asgi_headers)
        services.process_intakes()  # what the worker's task does
        return EdgeResponse(status, answer)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = basic(key)
    return Client().post(path, data=data, content_type="application/json", **extra)


# --- auth ------------------------------------------------------------------------------------


def test_write_key_is_stored_hashed_and_shown_once(source):
    row, secret = source
    assert secret.startswith("wk_") and secret not in row.key_hash and len(row.key_hash) == 64


def test_basic_auth(brand, write_key):
    r = post("/v1/track", {"userId": "u1", "event": "Signed Up"}, write_key)
    assert r.status_code == 200 and r.json() == {"success": True}
    e = TrackedEvent.objects.get()
    assert (e.brand, e.type, e.event, e.user_id) == (brand, "track", "Signed Up", "u1")


def test_write_key_in_body(brand, write_key):
    r = post("/v1/track", {"userId": "u1", "event": "X", "writeKey": write_key})
    assert r.status_code == 200
    assert TrackedEvent.objects.get().brand == brand


@pytest.mark.parametrize("key", [None, "wk_nope_x", "", "not-a-key"])
def test_missing_or_wrong_key_is_401(write_key, key):
    r = post("/v1/track", {"userId": "u1", "event": "X"}, key)
    assert r.status_code == 401 and r.json()["success"] is False
    assert not TrackedEvent.objects.exists()


def test_tampered_key_is_401(write_key):
    r = post("/v1/track", {"userId": "u1", "event": "X"}, write_key[:-2] + "xx")
    assert r.status_code == 401


def test_revoked_key_is_401(source):
    row, key = source
    services.revoke_source(row, actor=None)
    assert post("/v1/track", {"userId": "u1", "event": "X"}, key).status_code == 401


def test_other_brands_key_lands_on_other_brand(brand, other_brand, write_key):
    _, other_key = services.create_source(other_brand, name="app", actor=None)
    post("/v1/track", {"userId": "u1", "event": "X", "messageId": "m1"}, other_key)
    post("/v1/track", {"userId": "u1", "event": "X", "messageId": "m1"}, write_key)
    assert TrackedEvent.objects.filter(brand=other_brand).count() == 1
    assert TrackedEvent.objects.filter(brand=brand).count() == 1  # same messageId, other brand: kept


def test_get_is_not_allowed(write_key):
    assert Client().get("/v1/track", HTTP_AUTHORIZATION=basic(write_key)).status_code == 405


# --- each call -------------------------------------------------------------------------------


def test_each_endpoint(brand, write_key):
    calls = {
        "identify": {"userId": "u1", "traits": {"email": "a@example.com"}},
        "track": {"anonymousId": "a1", "event": "Product Viewed", "properties": {"sku": "S1"}},
        "page": {"anonymousId": "a1", "name": "Home", "properties": {"path": "/"}},
        "screen": {"userId": "u1", "name": "Cart"},
        "group": {"userId": "u1", "groupId": "g1", "traits": {"name": "ACME"}},
        "alias": {"userId": "u1", "previousId": "a1"},
    }
    for call, body in calls.items():
        r = post(f"/v1/{call}", {**body, "context": {"ip": "1.2.3.4"}}, write_key)
        assert r.status_code == 200, (call, r.content)
    rows = {e.type: e for e in TrackedEvent.objects.filter(brand=brand)}
    assert set(rows) == set(calls)
    assert rows["identify"].traits == {"email": "a@example.com"}
    assert rows["track"].event == "Product Viewed" and rows["track"].properties == {"sku": "S1"}
    assert rows["page"].event == "Home" and rows["screen"].event == "Cart"
    assert rows["group"].group_id == "g1" and rows["alias"].previous_id == "a1"
    assert rows["track"].context == {"ip": "1.2.3.4"} and rows["track"].anonymous_id == "a1"


def test_path_type_wins_over_body_type(write_key):
    post("/v1/page", {"type": "track", "anonymousId": "a1", "name": "Home"}, write_key)
    assert TrackedEvent.objects.get().type == "page"


# --- validation and limits -------------------------------------------------------------------


def test_missing_ids_is_400_naming_them(write_key):
    r = post("/v1/track", {"event": "X"}, write_key)
    assert r.status_code == 400 and "userId or anonymousId" in r.json()["message"]
    assert not TrackedEvent.objects.exists()


def test_track_without_event_is_400(write_key):
    r = post("/v1/track", {"userId": "u1"}, write_key)
    assert r.status_code == 400 and "event" in r.json()["message"]


def test_malformed_json_is_400(write_key):
    r = post("/v1/track", None, write_key, raw=b'{"userId": ')
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = post("/v1/batch", None, write_key, raw=b"[1, 2]")
    assert r.status_code == 400


def test_message_over_32kb_is_400(write_key):
    r = post("/v1/track", {"userId": "u1", "event": "X", "properties": {"x": "a" * 33_000}}, write_key)
    assert r.status_code == 400 and "32 KB" in r.json()["message"]
    assert not TrackedEvent.objects.exists()


def test_batch_over_500kb_is_400_and_stores_nothing(write_key):
    batch = [{"type": "track", "userId": "u1", "event": "X", "properties": {"x": "a" * 30_000}}] * 18
    r = post("/v1/batch", {"batch": batch}, write_key)
    assert r.status_code == 400 and "500 KB" in r.json()["message"]
    assert not TrackedEvent.objects.exists()


def test_message_over_32kb_inside_a_batch_is_skipped(write_key):
    batch = [
        {"type": "track", "userId": "u1", "event": "Big", "properties": {"x": "a" * 33_000}},
        {"type": "track", "userId": "u1", "event": "Small"},
    ]
    r = post("/v1/batch", {"batch": batch}, write_key)
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "rejected": [{"index": 0, "error": "message exceeds the 32 KB limit"}],
    }
    assert list(TrackedEvent.objects.values_list("event", flat=True)) == ["Small"]


def test_gzip_bomb_is_cut_at_the_limit(write_key):
    body = json.dumps({"batch": [], "pad": "a" * 2_000_000}).encode()
    r = post("/v1/batch", None, write_key, raw=gzip.compress(body), content_encoding="gzip")
    assert r.status_code == 400 and "500 KB" in r.json()["message"]


# --- duplicates, skew, gzip, batch -----------------------------------------------------------


def test_duplicates_dropped_by_message_id(brand, write_key):
    msg = {"userId": "u1", "event": "Order Completed", "messageId": "m-1"}
    assert post("/v1/track", msg, write_key).status_code == 200
    assert post("/v1/track", msg, write_key).status_code == 200
    batch = [{**msg, "type": "track"}, {**msg, "type": "track"}, {**msg, "type": "track", "messageId": "m-2"}]
    assert post("/v1/batch", {"batch": batch}, write_key).status_code == 200
    assert sorted(TrackedEvent.objects.values_list("message_id", flat=True)) == ["m-1", "m-2"]


def test_retried_batch_counts_once(write_key):
    batch = [{"type": "track", "userId": "u1", "event": "E", "messageId": f"m{i}"} for i in range(5)]
    post("/v1/batch", {"batch": batch[:3]}, write_key)
    post("/v1/batch", {"batch": batch}, write_key)
    assert TrackedEvent.objects.count() == 5


def test_clock_skew_corrected(write_key):
    # The device clock is 1 h behind: it sent 5 s after the event happened.
    msg = {
        "userId": "u1",
        "event": "E",
        "timestamp": "2026-01-01T10:00:00Z",
        "sentAt": "2026-01-01T10:00:05Z",
    }
    before = dt.datetime.now(dt.UTC)
    post("/v1/track", msg, write_key)
    e = TrackedEvent.objects.get()
    assert e.original_timestamp == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert e.sent_at == dt.datetime(2026, 1, 1, 10, 0, 5, tzinfo=dt.UTC)
    assert e.received_at >= before
    assert e.timestamp == e.received_at - dt.timedelta(seconds=5)


def test_batch_level_sent_at_and_original_timestamp(write_key):
    batch = [
        {"type": "track", "userId": "u1", "event": "E", "originalTimestamp": "2026-01-01T10:00:00+08:00"}
    ]
    post("/v1/batch", {"batch": batch, "sentAt": "2026-01-01T02:01:00Z"}, write_key)
    e = TrackedEvent.objects.get()
    assert e.timestamp == e.received_at - dt.timedelta(minutes=1)


def test_without_sent_at_the_original_timestamp_is_kept(write_key):
    post("/v1/track", {"userId": "u1", "event": "E", "timestamp": "2026-01-01T10:00:00Z"}, write_key)
    assert TrackedEvent.objects.get().timestamp == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)


def test_without_any_time_received_at_is_used(write_key):
    post("/v1/track", {"userId": "u1", "event": "E"}, write_key)
    e = TrackedEvent.objects.get()
    assert e.timestamp == e.received_at and e.original_timestamp is None


def test_bad_timestamp_is_400(write_key):
    r = post("/v1/track", {"userId": "u1", "event": "E", "timestamp": "yesterday"}, write_key)
    assert r.status_code == 400 and "timestamp" in r.json()["message"]


def test_gzip_body(write_key):
    body = gzip.compress(json.dumps({"batch": [{"type": "track", "userId": "u1", "event": "Z"}]}).encode())
    r = post("/v1/batch", None, write_key, raw=body, content_encoding="gzip")
    assert r.status_code == 200
    assert TrackedEvent.objects.get().event == "Z"


def test_broken_gzip_is_400(write_key):
    r = post("/v1/batch", None, write_key, raw=b"not gzip", content_encoding="gzip")
    assert r.status_code == 400


def test_batch_with_mixed_types_and_a_bad_message(brand, write_key):
    batch = [
        {"type": "identify", "userId": "u1", "traits": {"name": "A"}, "messageId": "m1"},
        {"type": "track", "anonymousId": "a1", "event": "Cart Viewed", "messageId": "m2"},
        {"type": "track", "event": "No Ids", "messageId": "m3"},
        {"type": "page", "userId": "u1", "name": "Home", "messageId": "m4"},
        {"type": "bogus", "userId": "u1", "messageId": "m5"},
        "not an object",
        {"type": "alias", "userId": "u1", "previousId": "a1", "messageId": "m7"},
    ]
    r = post("/v1/batch", {"batch": batch, "context": {"library": {"name": "x"}}}, write_key)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert [x["index"] for x in body["rejected"]] == [2, 4, 5]
    assert "userId or anonymousId" in body["rejected"][0]["error"]
    assert sorted(TrackedEvent.objects.values_list("type", flat=True)) == [
        "alias",
        "identify",
        "page",
        "track",
    ]
    assert TrackedEvent.objects.get(type="page").context == {"library": {"name": "x"}}
    # The sender fixes a bad one and resends the whole batch: the valid ones do not double.
    batch[2] = {**batch[2], "userId": "u2"}
    assert "rejected" in post("/v1/batch", {"batch": batch}, write_key).json()
    assert TrackedEvent.objects.count() == 5


def test_batch_must_be_a_list(write_key):
    assert post("/v1/batch", {"batch": {"type": "track"}}, write_key).status_code == 400


# --- customers -------------------------------------------------------------------------------


def test_user_id_resolves_member_number_and_identifier(brand, other_brand, write_key):
    member = f.make_customer(brand, name="會員", phone="+886911111111", member_number="M001")
    stranger = f.make_customer(other_brand, name="別家", phone="+886911111111", member_number="M002")
    member.identities.create(brand=brand, kind="user_id", value="shop-42")
    batch = [
        {"type": "track", "userId": "M001", "event": "A"},
        {"type": "track", "userId": "shop-42", "event": "B"},
        {"type": "track", "userId": "M002", "event": "C"},  # another brand's member number
        {"type": "track", "userId": "nobody", "event": "D"},
    ]
    post("/v1/batch", {"batch": batch}, write_key)
    got = dict(TrackedEvent.objects.values_list("event", "customer_id"))
    assert got == {"A": member.pk, "B": member.pk, "C": None, "D": None}
    assert stranger.pk


def test_identify_traits_from_context_as_rudderstack_sends_them(write_key):
    post("/v1/identify", {"userId": "u1", "context": {"traits": {"name": "A"}}}, write_key)
    assert TrackedEvent.objects.get().traits == {"name": "A"}


def test_nul_characters_are_refused_by_name(write_key):
    r = post("/v1/track", {"userId": "u\x001", "event": "E"}, write_key)
    assert r.status_code == 400 and "NUL" in r.json()["message"]
    batch = [
        {"type": "page", "anonymousId": "a1", "properties": {"q": "x\x00"}},
        {"type": "page", "anonymousId": "a2"},
    ]
    r = post("/v1/batch", {"batch": batch}, write_key)
    assert r.status_code == 200 and [item["index"] for item in r.json()["rejected"]] == [0]
    assert list(TrackedEvent.objects.values_list("anonymous_id", flat=True)) == ["a2"]


@pytest.mark.parametrize("bad_type", [[], {}, ["track"], {"track": 1}, 7, None])
def test_batch_whose_only_message_has_no_valid_type_is_400_naming_type(write_key, bad_type):
    r = post("/v1/batch", {"batch": [{"type": bad_type, "anonymousId": "x"}]}, write_key)
    assert r.status_code == 400
    assert r.json() == {
        "success": False,
        "message": "no message of the batch is valid; batch[0]: "
        "type must be one of alias, group, identify, page, screen, track",
        "rejected": [
            {"index": 0, "error": "type must be one of alias, group, identify, page, screen, track"}
        ],
    }
    assert not TrackedEvent.objects.exists()


def test_group_without_group_id_is_400_naming_it(write_key):
    r = post("/v1/group", {"userId": "u1", "traits": {"name": "ACME"}}, write_key)
    assert r.status_code == 400 and r.json()["message"] == "groupId is required for group"
    batch = [
        {"type": "group", "userId": "u1", "groupId": ""},
        {"type": "group", "userId": "u1", "groupId": "g1"},
    ]
    r = post("/v1/batch", {"batch": batch}, write_key)
    assert r.status_code == 200
    assert r.json()["rejected"] == [{"index": 0, "error": "groupId is required for group"}]
    assert list(TrackedEvent.objects.values_list("group_id", flat=True)) == ["g1"]
