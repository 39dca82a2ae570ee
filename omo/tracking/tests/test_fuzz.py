"""Property test: whatever a client sends to the tracking API, the answer is never a 500.

Bodies are arbitrary JSON (and near-Segment messages with wrong types in every field), sent
through the Django view and through the ASGI edge (whose stored calls the worker's step then
processes: it must not fail on anything the edge accepted).
"""

from __future__ import annotations

import base64
import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omo.core.edge import run_in_calling_thread
from omo.testing.line import call_asgi
from omo.tracking import services
from omo.tracking.edge import SourceCache, TrackingEdge
from omo.tracking.models import TrackingIntake

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.just("nul\x00")
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
timestamps = st.sampled_from(
    ["2026-11-23T08:00:00Z", "2026-11-23 08:00:00", "yesterday", "", "2026-13-45T99:00:00Z"]
)
message = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "nope"]) | anything,
        "userId": st.text(max_size=300) | anything,
        "anonymousId": st.text(max_size=40) | anything,
        "event": st.text(max_size=220) | anything,
        "name": st.text(max_size=20) | anything,
        "messageId": st.text(max_size=120) | anything,
        "previousId": st.text(max_size=20) | anything,
        "groupId": st.text(max_size=20) | anything,
        "timestamp": timestamps | anything,
        "originalTimestamp": timestamps | anything,
        "sentAt": timestamps | anything,
        "properties": anything,
        "traits": anything,
        "context": anything,
    },
)
bodies = st.one_of(
    anything,
    st.fixed_dictionaries(
        {"batch": st.lists(message | anything, max_size=5)},
        optional={"sentAt": anything, "context": anything},
    ),
    message,
)


@pytest.fixture
def write_key(brand):
    return services.create_source(brand, name="fuzz", actor=None)[1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=st.sampled_from(["batch", "track", "identify", "page", "alias"]), body=bodies)
def test_no_body_makes_a_500(write_key, call, body):
    data = json.dumps(body).encode()
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()

    view = Client().post(f"/v1/{call}", data=data, content_type="application/json", HTTP_AUTHORIZATION=auth)
    edge = TrackingEdge(None, run_db=run_in_calling_thread, cache=SourceCache())
    status, _ = async_to_sync(call_asgi)(edge, f"/v1/{call}", data, {"authorization": auth})
    services.process_intakes()

    assert view.status_code in (200, 400)
    assert status == view.status_code
    assert not TrackingIntake.objects.filter(status=TrackingIntake.Status.FAILED).exists()
