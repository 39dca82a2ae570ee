"""顧客 → 分眾 in the console: list, builder, preview, detail (members, history, why), lists, delete."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from omo.core.audit import Actor
from omo.customers import services as customers
from omo.segments import services
from omo.segments.models import Segment
from omo.testing import factories as f

VIP = {"field": "tag", "op": "has", "value": "VIP"}


@pytest.fixture
def hq(brand, hq_admin):
    return Actor(brand=brand, user=hq_admin, role="hq_admin")


@pytest.fixture
def vips(brand):
    return [
        f.make_customer(brand, name=f"貴賓{n}", phone=f"+8869120003{n:02d}", tags=["VIP"]) for n in range(3)
    ]


@pytest.fixture
def segment(hq, vips):
    return services.create_segment(hq.brand, actor=hq, name="VIP 貴賓", rule=VIP)


def test_the_list_shows_members_and_a_trend(console, hq, segment, vips):
    customers.update_customer(vips[0], actor=hq, tags=[])
    services.refresh(segment, "tag")
    page = console.get("/console/segments/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "VIP 貴賓" in html and 'class="sparkline"' in html
    assert "/console/segments/new/" in html


def test_create_a_rule_segment_from_the_form(console, vips):
    page = console.get("/console/segments/new/")
    assert page.status_code == 200 and b'id="segment-catalogue"' in page.content
    response = console.post(
        "/console/segments/new/", {"name": "VIP", "description": "", "kind": "rule", "rule": json.dumps(VIP)}
    )
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/console/segments/{segment.pk}/"
    assert segment.member_count == 3


@pytest.mark.parametrize(
    ("rule", "error"),
    [("{nope", "JSON"), (json.dumps({"field": "nope", "op": "eq", "value": 1}), "rule.field"), ("", "rule")],
)
def test_bad_rules_are_named_on_the_form(console, rule, error):
    response = console.post("/console/segments/new/", {"name": "壞", "kind": "rule", "rule": rule})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Segment.objects.exists()


def test_preview_answers_a_count_and_a_sample(console, vips):
    response = console.post(
        "/console/segments/preview/", json.dumps({"rule": VIP}), content_type="application/json"
    )
    body = response.json()
    assert body["count"] == 3
    assert [item["id"] for item in body["sample"]] == sorted((c.pk for c in vips), reverse=True)
    assert body["sample"][0]["url"] == f"/console/customers/{vips[-1].pk}/"
    bad = console.post(
        "/console/segments/preview/", json.dumps({"rule": {"any": []}}), content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["field"] == "rule.any"
    assert (
        console.post("/console/segments/preview/", "{x", content_type="application/json").status_code == 400
    )
    assert not Segment.objects.exists()


def test_the_detail_page(console, hq, segment, vips):
    services.update_segment(segment, actor=hq, rule={"not": VIP})
    services.update_segment(segment, actor=hq, rule=VIP)
    page = console.get(f"/console/segments/{segment.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert all(f"/console/customers/{c.pk}/" in html for c in vips)
    assert 'data-testid="segment-history-chart"' in html and "<svg" in html
    assert "修改條件" in html  # the reason of a refresh, in words
    assert "<script" not in html.split('data-testid="segment-history-chart"')[1].split("</div>")[0]


def test_the_why_box(console, brand, segment, vips):
    outsider = f.make_customer(brand, name="路人甲", phone="+886912888888")
    inside = console.get(f"/console/segments/{segment.pk}/", {"why": "0912000300"}).content.decode()
    assert "是成員" in inside and "貴賓0" in inside
    outside = console.get(f"/console/segments/{segment.pk}/", {"why": "路人"}).content.decode()
    assert "不是成員" in outside and outsider.name in outside
    nobody = console.get(f"/console/segments/{segment.pk}/", {"why": "0900000000"}).content.decode()
    assert "找不到符合" in nobody


def test_a_static_list_upload_with_errors_and_then_without(console, hq, vips):
    static = services.create_segment(hq.brand, actor=hq, name="名單", kind=Segment.Kind.STATIC)
    url = f"/console/segments/{static.pk}/list/"
    bad = console.post(url, {"file": SimpleUploadedFile("l.csv", b"phone\n0912000300\nabc\n", "text/csv")})
    assert bad.status_code == 400
    assert 'data-testid="list-errors"' in bad.content.decode() and "abc" in bad.content.decode()
    static.refresh_from_db()
    assert static.member_count == 0
    good = console.post(url, {"file": SimpleUploadedFile("l.csv", b"phone\n0912000300\n", "text/csv")})
    assert good.status_code == 302
    static.refresh_from_db()
    assert static.member_count == 1


def test_edit_and_delete(console, segment):
    page = console.get(f"/console/segments/{segment.pk}/edit/")
    assert page.status_code == 200 and "VIP 貴賓" in page.content.decode()
    response = console.post(
        f"/console/segments/{segment.pk}/edit/",
        {"name": "改名", "kind": "rule", "rule": json.dumps({"not": VIP})},
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.member_count) == ("改名", 0)
    assert console.post(f"/console/segments/{segment.pk}/delete/").status_code == 302
    assert not Segment.objects.exists()


def test_a_store_manager_reads_their_customers_only_and_may_not_build(brand, store, manager, segment, vips):
    vips[0].home_store = store
    vips[0].save()
    client = Client()
    client.force_login(manager)
    page = client.get(f"/console/segments/{segment.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"/console/customers/{vips[0].pk}/" in html and f"/console/customers/{vips[1].pk}/" not in html
    assert "/console/segments/new/" not in client.get("/console/segments/").content.decode()
    assert client.get("/console/segments/new/").status_code == 403
    assert client.post(f"/console/segments/{segment.pk}/delete/").status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_another_brand_gets_404(other_admin, segment):
    client = Client()
    client.force_login(other_admin)
    assert client.get(f"/console/segments/{segment.pk}/").status_code == 404
    assert b"VIP" not in client.get("/console/segments/").content


def test_the_customer_page_lists_the_customers_segments(console, segment, vips):
    html = console.get(f"/console/customers/{vips[0].pk}/").content.decode()
    assert 'data-testid="customer-segments"' in html and "VIP 貴賓" in html


def test_the_nav_links_to_segments(console):
    assert 'href="/console/segments/"' in console.get("/console/").content.decode()
