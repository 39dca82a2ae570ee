"""/api/v1/segments: CRUD, members (paged), counts, why, static lists, preview; tenancy and roles."""

from __future__ import annotations

import pytest

from omo.binding import services as binding
from omo.segments.models import Segment, SegmentMember
from omo.testing import factories as f

VIP = {"field": "tag", "op": "has", "value": "VIP"}


@pytest.fixture
def crowd(brand):
    return [
        f.make_customer(brand, name=f"VIP {n}", phone=f"+8869120001{n:02d}", tags=["VIP"]) for n in range(5)
    ]


def _create(api, **body) -> dict:
    response = api.post("/api/v1/segments", {"name": "VIP", "rule": VIP, **body})
    assert response.status_code == 201, response.content
    return response.json()


def test_crud(api, crowd):
    created = _create(api, description="有 VIP 標籤")
    assert (created["kind"], created["version"], created["member_count"]) == ("rule", 1, 5)
    assert created["rule"] == VIP and created["refreshed_at"] is not None

    listed = api.get("/api/v1/segments").json()
    assert (listed["total"], [item["id"] for item in listed["items"]]) == (1, [created["id"]])
    assert api.get(f"/api/v1/segments/{created['id']}").json()["member_count"] == 5

    patched = api.patch(f"/api/v1/segments/{created['id']}", {"rule": {"not": VIP}, "name": "非 VIP"})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["member_count"], patched.json()["version"]) == (
        "非 VIP",
        0,
        2,
    )

    assert api.delete(f"/api/v1/segments/{created['id']}").status_code == 204
    assert api.get(f"/api/v1/segments/{created['id']}").status_code == 404


def test_members_are_paged_newest_first(api, crowd):
    segment = _create(api)
    first = api.get(f"/api/v1/segments/{segment['id']}/members", limit=2).json()
    second = api.get(f"/api/v1/segments/{segment['id']}/members", limit=2, offset=2).json()
    assert (first["total"], first["limit"], first["offset"], first["version"]) == (5, 2, 0, 1)
    newest = sorted((c.pk for c in crowd), reverse=True)
    assert [m["id"] for m in first["items"] + second["items"]] == newest[:4]
    assert set(first["items"][0]) == {"id", "name", "phone", "email", "member_number"}
    bad = api.get(f"/api/v1/segments/{segment['id']}/members", limit=0)
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (400, "invalid_page", "limit")


def test_count_history(api, crowd):
    segment = _create(api)
    api.patch(f"/api/v1/segments/{segment['id']}", {"rule": {"not": VIP}})
    counts = api.get(f"/api/v1/segments/{segment['id']}/counts").json()
    assert [(c["version"], c["members"], c["added"], c["removed"], c["reason"]) for c in counts["items"]] == [
        (2, 0, 0, 5, "edited"),
        (1, 5, 5, 0, "created"),
    ]


def test_why(api, crowd, brand):
    segment = _create(api)
    outsider = f.make_customer(brand, name="路人", phone="+886912999999")
    inside = api.get(f"/api/v1/segments/{segment['id']}/why/{crowd[0].pk}").json()
    outside = api.get(f"/api/v1/segments/{segment['id']}/why/{outsider.pk}").json()
    assert inside["member"] is True and inside["sentence"]
    assert outside["member"] is False and outside["sentence"]


def test_preview_counts_without_saving(api, crowd):
    response = api.post("/api/v1/segments/preview", {"rule": VIP})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and len(body["sample"]) == 5
    assert [m["id"] for m in body["sample"]] == sorted((c.pk for c in crowd), reverse=True)
    assert not Segment.objects.exists()


def test_preview_sample_is_ten(api, brand):
    for n in range(12):
        f.make_customer(brand, name=f"VIP {n}", phone=f"+8869120002{n:02d}", tags=["VIP"])
    body = api.post("/api/v1/segments/preview", {"rule": VIP}).json()
    assert (body["count"], len(body["sample"])) == (12, 10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"name": "x", "rule": {"all": [VIP, {"field": "nope", "op": "eq", "value": 1}]}},
            "rule.all[1].field",
        ),
        ({"name": "x", "rule": {"field": "tag", "op": "explode", "value": "VIP"}}, "rule.op"),
        ({"name": "x"}, "rule"),
        ({"name": "   ", "rule": VIP}, "name"),
        ({"name": "x", "kind": "static", "rule": VIP}, "rule"),
    ],
)
def test_bad_bodies_name_the_problem(api, body, field):
    response = api.post("/api/v1/segments", body)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert not Segment.objects.exists()


def test_bad_preview_and_patch_name_the_path(api, crowd):
    segment = _create(api)
    response = api.post("/api/v1/segments/preview", {"rule": {"any": []}})
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422,
        "invalid_rule",
        "rule.any",
    )
    cycle = api.patch(
        f"/api/v1/segments/{segment['id']}",
        {"rule": {"field": "segment", "op": "in", "value": segment["id"]}},
    )
    assert cycle.status_code == 422 and cycle.json()["field"] == "rule.value"
    assert api.post("/api/v1/segments", {"name": "x", "kind": "ready_made", "rule": VIP}).status_code == 422
    assert api.post("/api/v1/segments/preview", raw=b"{not json").status_code == 400


def test_a_segment_read_by_another_is_not_deleted(api, crowd):
    base = _create(api)
    _create(api, name="讀者", rule={"field": "segment", "op": "in", "value": base["id"]})
    response = api.delete(f"/api/v1/segments/{base['id']}")
    assert (response.status_code, response.json()["code"]) == (409, "in_use")


def test_static_list_upload(api, crowd):
    segment = _create(api, kind="static", rule=None, name="名單")
    assert segment["member_count"] == 0
    good = api.post(f"/api/v1/segments/{segment['id']}/list", raw=b"phone\n0912000100\n0912000101\n")
    assert good.status_code == 200, good.content
    assert good.json() == {"members": 2, "added": 2, "removed": 0}
    bad = api.post(f"/api/v1/segments/{segment['id']}/list", raw=b"phone\n0912000100\nabc\n")
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_list"
    assert bad.json()["errors"] == [{"row": 3, "field": "phone", "error": bad.json()["errors"][0]["error"]}]
    assert api.get(f"/api/v1/segments/{segment['id']}").json()["member_count"] == 2


def test_another_brand_sees_nothing(api, other_api, crowd):
    segment = _create(api)
    base = f"/api/v1/segments/{segment['id']}"
    assert other_api.get("/api/v1/segments").json()["total"] == 0
    for response in (
        other_api.get(base),
        other_api.patch(base, {"name": "x"}),
        other_api.delete(base),
        other_api.get(f"{base}/members"),
        other_api.get(f"{base}/counts"),
        other_api.get(f"{base}/why/{crowd[0].pk}"),
        other_api.post(f"{base}/list", raw=b"phone\n0912000100\n"),
        other_api.post("/api/v1/segments/preview", {"rule": VIP, "segment_id": segment["id"]}),
    ):
        assert response.status_code == 404, response.content
    assert other_api.post("/api/v1/segments/preview", {"rule": VIP}).json()["count"] == 0
    assert Segment.objects.get(pk=segment["id"]).name == "VIP"


def test_the_why_of_another_brands_customer_is_404(api, other_brand, crowd):
    segment = _create(api)
    stranger = f.make_customer(other_brand, name="別家", phone="+886912000100")
    assert api.get(f"/api/v1/segments/{segment['id']}/why/{stranger.pk}").status_code == 404


def test_readers_may_not_write(brand, api, crowd):
    segment = _create(api)
    base = f"/api/v1/segments/{segment['id']}"
    for role in ("store_manager", "clerk"):
        reader = f.ApiClient(f.make_api_key(brand, role=role))
        assert reader.get(base).status_code == 200
        assert reader.post("/api/v1/segments", {"name": "x", "rule": VIP}).status_code == 403
        assert reader.patch(base, {"name": "x"}).status_code == 403
        assert reader.delete(base).status_code == 403
        assert reader.post(f"{base}/list", raw=b"phone\n0912000100\n").status_code == 403
    agent = f.ApiClient(f.make_api_key(brand, role="hq_agent"))
    assert agent.patch(base, {"name": "客服改名"}).status_code == 200


def test_a_clerk_sees_only_bound_customers_among_members(brand, store, api, crowd):
    clerk = f.make_user(brand, "seg-clerk", role="clerk", store=store)
    binding.bind_customer(crowd[1], clerk, source="manual")
    clerk_api = f.ApiClient(f.make_api_key(brand, role="clerk", staff=clerk))
    segment = _create(api)
    base = f"/api/v1/segments/{segment['id']}"

    assert clerk_api.get(base).json()["member_count"] == 1
    assert [m["id"] for m in clerk_api.get(f"{base}/members").json()["items"]] == [crowd[1].pk]
    assert clerk_api.get("/api/v1/segments").json()["items"][0]["member_count"] == 1
    assert clerk_api.post("/api/v1/segments/preview", {"rule": VIP}).status_code == 403
    assert clerk_api.get(f"{base}/why/{crowd[2].pk}").status_code == 404
    assert SegmentMember.objects.filter(segment_id=segment["id"]).count() == 5


def test_openapi_lists_the_segment_endpoints(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/segments",
        "/api/v1/segments/{segment_id}",
        "/api/v1/segments/{segment_id}/members",
        "/api/v1/segments/preview",
    ):
        assert path in paths
