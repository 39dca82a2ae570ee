"""The official Python clients (Segment and RudderStack) pointed at a live server deliver events."""

from __future__ import annotations

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from omo.testing import factories as f
from omo.tracking import services
from omo.tracking.models import TrackedEvent

pytestmark = pytest.mark.django_db(transaction=True)  # the live server reads from its own connection


def _deliver(client) -> None:
    client.identify("M-777", {"name": "王小明", "email": "ming@example.com"})
    client.track("M-777", "Order Completed", {"order_id": "o1", "total": 990})
    client.track(None, "Product Viewed", {"sku": "S1"}, anonymous_id="anon-1")
    client.page("M-777", None, "Home", {"path": "/"})


@pytest.mark.parametrize(
    "make_client",
    [
        pytest.param(lambda key, url: SegmentClient(key, host=url, sync_mode=True, gzip=True), id="segment"),
        pytest.param(
            lambda key, url: RudderClient(key, host=url, sync_mode=True, gzip=True), id="rudderstack"
        ),
    ],
)
def test_official_client_delivers_to_the_right_brand_and_customer(live_server, make_client):
    brand = f.make_brand("草本生活", slug="herb")
    other = f.make_brand("別家品牌", slug="other")
    member = f.make_customer(brand, name="王小明", phone="+886922222222", member_number="M-777")
    f.make_customer(other, name="別人", phone="+886922222222", member_number="M-777")
    _, key = services.create_source(brand, name="server", actor=None)
    services.create_source(other, name="server", actor=None)

    client = make_client(key, live_server.url)
    _deliver(client)  # sync mode: each call is one POST /v1/batch; a non-2xx answer raises

    events = TrackedEvent.objects.filter(brand=brand)
    assert not TrackedEvent.objects.filter(brand=other).exists()
    got = sorted(events.values_list("type", "event", "user_id", "anonymous_id", "customer_id"))
    assert got == [
        ("identify", "", "M-777", "", member.pk),
        ("page", "Home", "M-777", "", member.pk),
        ("track", "Order Completed", "M-777", "", member.pk),
        ("track", "Product Viewed", "", "anon-1", None),
    ]
    identify = events.get(type="identify")
    assert identify.traits == {"name": "王小明", "email": "ming@example.com"}
    assert identify.sent_at is not None and identify.original_timestamp is not None
    assert events.get(event="Order Completed").properties == {"order_id": "o1", "total": 990}
    assert events.get(type="page").properties == {"path": "/"}
    assert "library" in identify.context


def test_wrong_key_raises_in_the_client(live_server, db):
    client = SegmentClient("wk_wrong_key", host=live_server.url, sync_mode=True, max_retries=0)
    with pytest.raises(Exception, match="401|write key"):
        client.track("u1", "E")


@pytest.mark.parametrize(
    "make_client",
    [
        pytest.param(lambda key, url: SegmentClient(key, host=url, sync_mode=True, gzip=True), id="segment"),
        pytest.param(
            lambda key, url: RudderClient(key, host=url, sync_mode=True, gzip=True), id="rudderstack"
        ),
    ],
)
def test_official_client_through_the_edge_and_the_worker(make_client):
    """What `omo serve` runs: the tracking edge stores the calls, the worker's step makes the events."""
    from omo.testing.asgi import running_asgi
    from omo.tracking.models import TrackingIntake

    brand = f.make_brand("草本生活", slug="herb")
    member = f.make_customer(brand, name="王小明", phone="+886922222222", member_number="M-777")
    _, key = services.create_source(brand, name="server", actor=None)

    with running_asgi() as url:
        _deliver(make_client(key, url))

    assert TrackingIntake.objects.filter(brand=brand, status="pending").count() == 4
    assert services.process_intakes()["events"] == 4
    got = sorted(TrackedEvent.objects.filter(brand=brand).values_list("type", "event", "customer_id"))
    assert got == [
        ("identify", "", member.pk),
        ("page", "Home", member.pk),
        ("track", "Order Completed", member.pk),
        ("track", "Product Viewed", None),
    ]
