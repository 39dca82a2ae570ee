"""The LINE adapter on its own: hosts, signatures, parsing, classification, profile/content/quota, login, cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from linebot.v3 import WebhookParser
from linebot.v3.messaging import FlexContainer, FlexMessage

from omo.devtools import line_webhook_sender as wh
from omo.platforms.base import Endpoint, OutboundRequest, SendStatus, failure_reason
from omo.platforms.line.adapter import LineAdapter, api_bases, compute_signature
from omo.platforms.line.flex import MAX_PRODUCT_CARDS, ProductCard, product_carousel
from omo.platforms.line.login import InvalidIdToken, verify_id_token


def test_one_api_base_override_moves_the_content_host_too(settings):
    settings.OMO_LINE_API_BASE = "https://api.line.me"
    settings.OMO_LINE_DATA_API_BASE = None
    assert api_bases() == ("https://api.line.me", "https://api-data.line.me")

    settings.OMO_LINE_API_BASE = "http://127.0.0.1:9999/"
    assert api_bases() == ("http://127.0.0.1:9999", "http://127.0.0.1:9999")

    settings.OMO_LINE_DATA_API_BASE = "http://127.0.0.1:8888"
    assert api_bases() == ("http://127.0.0.1:9999", "http://127.0.0.1:8888")


def test_signature_matches_the_sdk_validator():
    secret, body = "a1b2c3", wh.webhook_body("U" + "0" * 32, [wh.text_event(wh.user_id(), "中文 ✓")])
    signature = compute_signature(secret, body)
    adapter = LineAdapter(channel_secret=secret, access_token="t")

    assert adapter.verify({"x-line-signature": signature}, body)
    assert not adapter.verify({"x-line-signature": signature}, body + b" ")
    assert not adapter.verify({}, body)
    assert not LineAdapter(channel_secret="", access_token="t").verify({"x-line-signature": signature}, body)
    # and the SDK accepts what the webhook sender signs
    assert len(WebhookParser(secret).parse(body.decode(), wh.sign(secret, body))) == 1


def test_receipt_rows_are_shape_checked():
    with pytest.raises(ValueError):
        LineAdapter.receipt_rows({"events": "nope"})
    with pytest.raises(ValueError):
        LineAdapter.receipt_rows([])
    long_id = {
        **wh.follow_event(wh.user_id()),
        "webhookEventId": "x" * 100,
        "type": "t" * 60,
        "timestamp": "soon",
    }
    [row] = LineAdapter.receipt_rows({"events": [long_id]})
    assert row.event_id.startswith("sha256:") and len(row.event_type) == 40 and row.occurred_at is None


def test_every_fixture_parses_without_raising():
    adapter = LineAdapter(channel_secret="s", access_token="t")
    for path in (Path(__file__).resolve().parent.parent / "line" / "fixtures").glob("*.json"):
        for event in adapter.parse(path.read_bytes()):
            assert event.event_id and event.event_type


def test_events_the_sdk_cannot_read_are_kept_as_unknown():
    adapter = LineAdapter(channel_secret="s", access_token="t")
    broken = {"type": "message", "message": {"type": "text"}}  # no id, no timestamp, no mode…
    event = adapter.parse_event(broken)
    assert (event.known, event.event_type, event.event_id.startswith("sha256:")) == (False, "message", True)


def test_send_classifies_every_answer(line_standin, line_channel, line_user):
    adapter = LineAdapter(channel_secret=line_channel.channel_secret, access_token=line_channel.access_token)
    text = [{"type": "text", "text": "hi"}]
    key = "123e4567-e89b-12d3-a456-426614174000"
    push = OutboundRequest(messages=text, to=line_user.user_id, retry_key=key)

    first = adapter.send(push)
    assert (first.status, first.endpoint, first.http_status) == (SendStatus.SENT, Endpoint.PUSH, 200)
    assert first.request_id and len(first.message_ids) == 1

    again = adapter.send(push)
    assert (again.status, again.message_ids, again.request_id) == (
        SendStatus.ALREADY_ACCEPTED,
        first.message_ids,
        first.request_id,
    )

    reply = adapter.send(OutboundRequest(messages=text, reply_token="not-issued"))
    assert reply.status is SendStatus.INVALID_REPLY_TOKEN

    line_standin.inject("quota")
    assert (
        adapter.send(OutboundRequest(messages=text, to=line_user.user_id)).status
        is SendStatus.QUOTA_EXHAUSTED
    )
    line_standin.inject("rate")
    assert (
        adapter.send(OutboundRequest(messages=text, to=line_user.user_id)).status is SendStatus.RATE_LIMITED
    )
    line_standin.inject("status", status=502)
    assert adapter.send(OutboundRequest(messages=text, to=line_user.user_id)).status is SendStatus.TRANSIENT

    bad = adapter.send(OutboundRequest(messages=[{"type": "text", "text": "x" * 5001}], to=line_user.user_id))
    assert (bad.status, bad.http_status) == (SendStatus.REJECTED, 400)
    assert "5000" in bad.error

    refused_locally = adapter.send(OutboundRequest(messages=[], to=line_user.user_id))
    assert (refused_locally.status, refused_locally.http_status) == (SendStatus.REJECTED, 0)

    multicast = adapter.send(
        OutboundRequest(
            messages=text,
            to=[line_user.user_id, wh.user_id()],
            retry_key="223e4567-e89b-12d3-a456-426614174000",
        )
    )
    assert multicast.status is SendStatus.SENT

    wrong_token = LineAdapter(channel_secret="s", access_token="wrong").send(push)
    assert (wrong_token.status, wrong_token.http_status) == (SendStatus.REJECTED, 401)


def test_connection_refused_is_transient(settings):
    adapter = LineAdapter(
        channel_secret="s", access_token="t", api_base="http://127.0.0.1:9", timeout=(0.5, 0.5)
    )
    result = adapter.send(
        OutboundRequest(messages=[{"type": "text", "text": "hi"}], to=wh.user_id(), retry_key="k")
    )
    assert result.status is SendStatus.TRANSIENT


def test_profile_content_quota_and_loading(line_standin, line_channel, line_user, line_inbox):
    from omo.platforms import get_adapter

    adapter = get_adapter(line_inbox)
    assert get_adapter(line_inbox) is adapter  # cached with its connection pool

    profile = adapter.fetch_profile(line_user.user_id)
    assert (profile.display_name, profile.picture_url, profile.language) == (
        "林小姐",
        line_user.picture_url,
        "zh-TW",
    )
    assert adapter.fetch_profile(wh.user_id()) is None

    line_standin.add_content("m1", b"\x89PNG", "image/png")
    content = adapter.fetch_content("m1")
    assert (content.data, content.content_type, content.ready) == (b"\x89PNG", "image/png", True)
    assert adapter.fetch_content("nope") is None
    line_standin.add_content("m2", b"", "video/mp4", transcoding="processing")
    assert adapter.fetch_content("m2").ready is False
    assert adapter.content_status("m2") == "processing"

    line_channel.quota_limit = 200
    adapter.send(OutboundRequest(messages=[{"type": "text", "text": "hi"}], to=line_user.user_id))
    assert adapter.quota() == {"type": "limited", "limit": 200, "used": 1}

    assert adapter.show_loading(line_user.user_id, seconds=7) is True
    assert line_standin.calls("/v2/bot/chat/loading/start")[0]["status"] == 202


def test_id_token_verification_against_the_stand_in(line_standin, line_user):
    token = line_standin.mint_id_token(line_user.user_id, client_id="2000000001", nonce="n-1")

    claims = verify_id_token(token, client_id="2000000001", nonce="n-1")
    assert (claims.user_id, claims.name, claims.audience) == (line_user.user_id, "林小姐", "2000000001")

    with pytest.raises(InvalidIdToken, match="Audience"):
        verify_id_token(token, client_id="999")
    with pytest.raises(InvalidIdToken, match="Nonce"):
        verify_id_token(token, client_id="2000000001", nonce="other")
    with pytest.raises(InvalidIdToken, match="expired"):
        verify_id_token(line_standin.mint_id_token(line_user.user_id, client_id="1", ttl=-1), client_id="1")
    with pytest.raises(InvalidIdToken):
        verify_id_token(token[:-3] + "abc", client_id="2000000001")


def test_product_carousel_passes_the_sdk_models():
    message = product_carousel(
        [
            ProductCard(
                title="竹纖維毛巾",
                price=35000,
                url="https://s.example/r/a",
                image_url="https://s.example/a.jpg",
            )
        ]
        * 3
    )
    container = FlexContainer.from_dict(message["contents"])
    FlexMessage(alt_text=message["altText"], contents=container)
    assert message["altText"].startswith("商品推薦：竹纖維毛巾")
    assert len(json.dumps(message)) < 50 * 1024


@pytest.mark.parametrize(
    "cards",
    [
        [],
        [{"title": "x", "price": 1, "url": "https://a"}] * (MAX_PRODUCT_CARDS + 1),
        [{"title": "", "url": "https://a"}],
        [{"title": "x", "url": ""}],
        [{"title": "x", "url": "https://a/" + "x" * 1000}],
    ],
)
def test_product_carousel_refuses_bad_cards(cards):
    with pytest.raises(ValueError):
        product_carousel(cards)


def test_card_without_image_or_price_still_valid():
    message = product_carousel([{"title": "訂製款", "url": "https://s.example/r/b"}])
    bubble = message["contents"]["contents"][0]
    assert "hero" not in bubble
    assert [c["text"] for c in bubble["body"]["contents"]] == ["訂製款"]


def test_failure_reasons_are_bilingual_and_fit():
    reason = failure_reason("rejected", "400 " + "x" * 500)
    assert reason.startswith("LINE 拒絕了這則訊息（400 ") and " / LINE rejected this message (400 " in reason
    assert len(reason) <= 300
