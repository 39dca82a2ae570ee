"""Property test: whatever a correctly signed LINE webhook holds, the edge answers 200 or 400 (never
a 5xx) and processing its events never fails nor leaves one pending.

Bodies are arbitrary JSON and LINE-shaped events with wrong types in every field, NUL characters,
huge numbers and deep nesting, signed with the inbox's secret so they pass the signature check.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omo.inbox.models import WebhookReceipt
from omo.platforms.tasks import process_pending
from omo.testing.line import post_line_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

USER = "U" + "0" * 32
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.just("nul\x00")
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
texts = st.text(max_size=30) | st.just("a\x00b") | anything
message = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(min_size=1, max_size=20) | anything,
        "type": st.sampled_from(["text", "image", "video", "audio", "file", "location", "sticker", "x"])
        | anything,
        "text": texts,
        "quoteToken": st.text(max_size=10) | anything,
        "fileName": texts,
        "title": texts,
        "address": texts,
        "latitude": anything,
        "longitude": anything,
        "packageId": texts,
        "stickerId": texts,
        "contentProvider": st.just({"type": "line"}) | anything,
    },
)
event = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["message", "follow", "unfollow", "postback", "unsend", "messageEdited", "join", "beacon", "nope"]
        )
        | anything,
        "mode": st.sampled_from(["active", "standby"]) | anything,
        "timestamp": st.integers(min_value=-(2**70), max_value=2**70) | anything,
        "webhookEventId": st.text(min_size=1, max_size=90) | anything,
        "deliveryContext": st.just({"isRedelivery": False}) | anything,
        "replyToken": st.text(max_size=40) | anything,
        "source": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["user", "group", "room"]) | anything,
                "userId": st.just(USER) | texts,
                "groupId": texts,
            },
        )
        | anything,
        "message": message | anything,
        "follow": st.just({"isUnblocked": True}) | anything,
        "postback": st.fixed_dictionaries({}, optional={"data": texts, "params": anything}) | anything,
        "unsend": st.fixed_dictionaries({}, optional={"messageId": texts}) | anything,
    },
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"destination": st.text(max_size=40) | anything, "events": st.lists(event, max_size=4)}
    ),
    st.fixed_dictionaries({"events": st.lists(event | anything, max_size=3)}),
    anything,
)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, nesting=st.sampled_from([0, 0, 0, 5, 2000]))
def test_no_signed_body_makes_a_server_error_or_a_stuck_event(line_inbox, line_standin, body, nesting):
    raw = json.dumps(body).encode()
    if nesting:
        raw = b'{"events": [{"type": "message", "x": ' + b"[" * nesting + b"]" * nesting + b"}]}"

    status, _ = post_line_webhook(line_inbox, body=raw)
    process_pending(line_inbox.pk)

    assert status in (200, 400)
    left = WebhookReceipt.objects.filter(inbox=line_inbox).exclude(status__in=["processed", "ignored"])
    assert not left.exists(), list(left.values_list("status", "payload", "error"))
    WebhookReceipt.objects.all().delete()
