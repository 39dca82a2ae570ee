"""The LINE stand-in behaves like LINE where omo depends on it, and the webhook sender signs like LINE."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from linebot.v3 import WebhookParser
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, PushMessageRequest, TextMessage
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent

from omo.devtools import line_webhook_sender as wh
from omo.devtools.line_standin import LineStandIn

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def standin():
    with LineStandIn() as server:
        yield server


@pytest.fixture
def line(standin):
    standin.reset()
    standin.channels.clear()
    standin.users.clear()
    standin.reply_token_life = 60.0
    channel = standin.add_channel()
    user = standin.add_user(display_name="林小姐")
    return type("Line", (), {"server": standin, "channel": channel, "user": user})


def call(
    standin: LineStandIn,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    form: bool = False,
) -> tuple[int, dict[str, str], Any]:
    data = None
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
    request = urllib.request.Request(standin.url + path, data=data, headers=sent, method=method)
    try:
        with _direct.open(request, timeout=5) as response:
            status, answer, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, answer, raw = exc.code, dict(exc.headers), exc.read()
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = raw
    return status, {k.lower(): v for k, v in answer.items()}, parsed


def push(line, body: Any = None, **headers: str):
    body = (
        body if body is not None else {"to": line.user.user_id, "messages": [{"type": "text", "text": "hi"}]}
    )
    return call(
        line.server, "POST", "/v2/bot/message/push", body, token=line.channel.access_token, headers=headers
    )


def test_every_answer_has_a_request_id_and_needs_the_bearer_token(line):
    status, headers, body = call(line.server, "POST", "/v2/bot/message/push", {"to": "x", "messages": []})
    assert status == 401 and "Authentication failed" in body["message"]
    assert uuid.UUID(headers["x-line-request-id"])
    status, headers, _ = call(line.server, "GET", "/v2/bot/nowhere", token=line.channel.access_token)
    assert status == 404 and headers["x-line-request-id"]


@pytest.mark.parametrize(
    ("body", "property_fragment"),
    [
        ({"to": "U" + "a" * 32}, "messages"),
        ({"to": "U" + "a" * 32, "messages": []}, "messages"),
        ({"to": "U" + "a" * 32, "messages": [{"type": "text", "text": "x"}] * 6}, "messages"),
        ({"to": "U" + "a" * 32, "messages": [{"type": "text"}]}, "text"),
        ({"to": "U" + "a" * 32, "messages": [{"type": "text", "text": "x" * 5001}]}, "messages[0].text"),
        (
            {
                "to": "U" + "a" * 32,
                "messages": [{"type": "flex", "altText": "x" * 1501, "contents": {"type": "bubble"}}],
            },
            "altText",
        ),
        (
            {
                "to": "U" + "a" * 32,
                "messages": [
                    {
                        "type": "text",
                        "text": "x",
                        "quickReply": {
                            "items": [
                                {"type": "action", "action": {"type": "message", "label": "a", "text": "a"}}
                            ]
                            * 14
                        },
                    }
                ],
            },
            "items",
        ),
    ],
)
def test_bodies_are_validated_with_the_sdk_models_and_line_limits(line, body, property_fragment):
    status, _, answer = push(line, body)
    assert status == 400
    assert answer["message"].startswith("The request body has")
    assert any(
        property_fragment in (d.get("property") or "") + d.get("message", "") for d in answer["details"]
    ), answer
    assert not line.server.delivered()


def test_unknown_message_type_and_bad_json_are_400(line):
    assert push(line, {"to": line.user.user_id, "messages": [{"type": "hologram"}]})[0] == 400
    assert push(line, b"{not json")[0] == 400
    status, _, answer = push(line, {"to": "someone", "messages": [{"type": "text", "text": "x"}]})
    assert status == 400 and "'to'" in answer["message"]


def test_reply_tokens_are_single_use_and_expire(line):
    token = line.server.issue_reply_token(line.channel.channel_id, line.user.user_id)
    body = {"replyToken": token, "messages": [{"type": "text", "text": "謝謝"}]}
    reply = lambda: call(line.server, "POST", "/v2/bot/message/reply", body, token=line.channel.access_token)  # noqa: E731

    status, _, answer = reply()
    assert status == 200 and len(answer["sentMessages"]) == 1
    assert reply()[2] == {"message": "Invalid reply token"}

    line.server.reply_token_life = 0.2
    late = line.server.issue_reply_token(line.channel.channel_id, line.user.user_id)
    time.sleep(0.3)
    body["replyToken"] = late
    assert reply()[0] == 400

    other = line.server.add_channel()
    foreign = line.server.issue_reply_token(other.channel_id, line.user.user_id)
    body["replyToken"] = foreign
    assert reply()[2] == {"message": "Invalid reply token"}
    assert [d.via for d in line.server.delivered(line.user.user_id)] == ["reply"]


def test_retry_key_on_reply_is_refused(line):
    token = line.server.issue_reply_token(line.channel.channel_id, line.user.user_id)
    status, _, answer = call(
        line.server,
        "POST",
        "/v2/bot/message/reply",
        {"replyToken": token, "messages": [{"type": "text", "text": "x"}]},
        token=line.channel.access_token,
        headers={"X-Line-Retry-Key": str(uuid.uuid4())},
    )
    assert status == 400 and "retry key" in answer["message"]


def test_a_repeated_retry_key_is_409_with_the_accepted_request(line):
    key = str(uuid.uuid4())
    status, headers, first = push(line, **{"X-Line-Retry-Key": key})
    assert status == 200

    status, again_headers, again = push(line, **{"X-Line-Retry-Key": key})

    assert status == 409
    assert again == {"message": "The retry key is already accepted", "sentMessages": first["sentMessages"]}
    assert again_headers["x-line-accepted-request-id"] == headers["x-line-request-id"]
    assert again_headers["x-line-request-id"] != headers["x-line-request-id"]
    assert len(line.server.delivered(line.user.user_id)) == 1
    assert push(line, **{"X-Line-Retry-Key": "not-a-uuid"})[0] == 400


def test_a_key_whose_first_attempt_failed_is_not_accepted_yet(line):
    key = str(uuid.uuid4())
    line.server.inject("status", status=500)
    assert push(line, **{"X-Line-Retry-Key": key})[0] == 500
    assert push(line, **{"X-Line-Retry-Key": key})[0] == 200
    assert push(line, **{"X-Line-Retry-Key": key})[0] == 409
    assert len(line.server.delivered()) == 1


def test_faults_quota_and_latency(line):
    line.server.inject("rate", count=2)
    assert [push(line)[2]["message"] for _ in range(2)] == [
        "The API rate limit has been exceeded. Try again later."
    ] * 2
    assert push(line)[0] == 200

    line.server.inject("quota")
    assert push(line)[:3:2] == (429, {"message": "You have reached your monthly limit."})

    line.server.inject("status", status=500, paths=["/v2/bot/profile/"])
    assert push(line)[0] == 200  # other paths are not affected
    assert (
        call(line.server, "GET", f"/v2/bot/profile/{line.user.user_id}", token=line.channel.access_token)[0]
        == 500
    )

    line.server.inject("latency", latency=0.3)
    started = time.monotonic()
    assert push(line)[0] == 200
    assert time.monotonic() - started >= 0.3

    line.channel.quota_limit = line.channel.used
    assert push(line)[2] == {"message": "You have reached your monthly limit."}
    status, _, quota = call(line.server, "GET", "/v2/bot/message/quota", token=line.channel.access_token)
    assert (status, quota) == (200, {"type": "limited", "value": line.channel.used})
    status, _, used = call(
        line.server, "GET", "/v2/bot/message/quota/consumption", token=line.channel.access_token
    )
    assert used == {"totalUsage": line.channel.used}


def test_multicast(line):
    others = [line.server.add_user().user_id for _ in range(3)]
    body = {"to": others, "messages": [{"type": "text", "text": "新品到貨"}]}
    key = str(uuid.uuid4())
    status, _, answer = call(
        line.server,
        "POST",
        "/v2/bot/message/multicast",
        body,
        token=line.channel.access_token,
        headers={"X-Line-Retry-Key": key},
    )
    assert (status, answer) == (200, {})
    assert sorted(d.to for d in line.server.delivered(via="multicast")) == sorted(others)
    status, _, again = call(
        line.server,
        "POST",
        "/v2/bot/message/multicast",
        body,
        token=line.channel.access_token,
        headers={"X-Line-Retry-Key": key},
    )
    assert (status, again) == (409, {"message": "The retry key is already accepted"})
    too_many = {"to": ["U" + "b" * 32] * 501, "messages": body["messages"]}
    assert (
        call(line.server, "POST", "/v2/bot/message/multicast", too_many, token=line.channel.access_token)[0]
        == 400
    )


def test_blocked_users_get_200_but_nothing(line):
    line.user.blocked = True
    assert push(line)[0] == 200
    assert not line.server.delivered(line.user.user_id)
    assert (
        call(line.server, "GET", f"/v2/bot/profile/{line.user.user_id}", token=line.channel.access_token)[0]
        == 404
    )


def test_profile_content_and_loading(line):
    status, _, profile = call(
        line.server, "GET", f"/v2/bot/profile/{line.user.user_id}", token=line.channel.access_token
    )
    assert (status, profile["displayName"], profile["userId"]) == (200, "林小姐", line.user.user_id)

    line.server.add_content("42", b"\xff\xd8jpeg", "image/jpeg")
    status, headers, data = call(
        line.server, "GET", "/v2/bot/message/42/content", token=line.channel.access_token
    )
    assert (status, headers["content-type"], data) == (200, "image/jpeg", b"\xff\xd8jpeg")
    line.server.add_content("43", b"", "video/mp4", transcoding="processing")
    assert call(line.server, "GET", "/v2/bot/message/43/content", token=line.channel.access_token)[0] == 202
    assert call(
        line.server, "GET", "/v2/bot/message/43/content/transcoding", token=line.channel.access_token
    )[2] == {"status": "processing"}

    ok = {"chatId": line.user.user_id, "loadingSeconds": 10}
    assert call(line.server, "POST", "/v2/bot/chat/loading/start", ok, token=line.channel.access_token)[
        :3:2
    ] == (202, {})
    for bad in (
        {"chatId": line.user.user_id, "loadingSeconds": 7},
        {"chatId": line.user.user_id, "loadingSeconds": 90},
        {"loadingSeconds": 10},
    ):
        assert (
            call(line.server, "POST", "/v2/bot/chat/loading/start", bad, token=line.channel.access_token)[0]
            == 400
        )


def test_the_official_sdk_client_works_against_it(line):
    configuration = Configuration(access_token=line.channel.access_token, host=line.server.url)
    with ApiClient(configuration) as client:
        response = MessagingApi(client).push_message_with_http_info(
            PushMessageRequest(to=line.user.user_id, messages=[TextMessage(text="來自 SDK")]),
            x_line_retry_key=str(uuid.uuid4()),
        )
    assert response.status_code == 200
    assert response.headers["x-line-request-id"]
    assert line.server.delivered(line.user.user_id)[0].messages == [{"type": "text", "text": "來自 SDK"}]


def test_line_login_verify(line):
    token = line.server.mint_id_token(line.user.user_id, client_id="1650000000", nonce="abc")
    form = {"id_token": token, "client_id": "1650000000", "nonce": "abc"}
    status, _, claims = call(line.server, "POST", "/oauth2/v2.1/verify", form, form=True)
    assert status == 200
    assert (claims["iss"], claims["sub"], claims["aud"], claims["name"]) == (
        "https://access.line.me",
        line.user.user_id,
        "1650000000",
        "林小姐",
    )
    assert call(line.server, "POST", "/oauth2/v2.1/verify", {**form, "client_id": "1"}, form=True)[2] == {
        "error": "invalid_request",
        "error_description": "Invalid IdToken Audience.",
    }
    assert (
        call(line.server, "POST", "/oauth2/v2.1/verify", {**form, "user_id": "U" + "0" * 32}, form=True)[0]
        == 400
    )


class _Receiver(BaseHTTPRequestHandler):
    secret = ""
    received: list[Any] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        events = WebhookParser(self.secret).parse(body.decode(), self.headers["x-line-signature"])
        self.received.append(events)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_webhook_sender_signs_like_line_and_tokens_work(line):
    _Receiver.secret, _Receiver.received = line.channel.channel_secret, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/line/1"
        sender = line.server.webhook_sender(url, line.channel)
        uid = line.user.user_id
        status, _ = sender.send(
            wh.follow_event(uid), wh.text_event(uid, "你好"), wh.postback_event(uid, "bind:x")
        )
        assert status == 200

        status, _, answer = call(
            line.server,
            "POST",
            "/_standin/webhooks",
            {
                "url": url,
                "channel_id": line.channel.channel_id,
                "events": [wh.text_event(uid, "via control API")],
            },
        )
        assert (status, answer["status"]) == (200, 200)
    finally:
        server.shutdown()

    follow, text, postback = _Receiver.received[0]
    assert isinstance(follow, FollowEvent) and isinstance(postback, PostbackEvent)
    assert isinstance(text, MessageEvent) and isinstance(text.message, TextMessageContent)
    assert text.message.text == "你好"
    assert len(text.webhook_event_id) == 26
    # the token in the webhook is one the stand-in accepts, once
    reply = {"replyToken": text.reply_token, "messages": [{"type": "text", "text": "收到"}]}
    assert (
        call(line.server, "POST", "/v2/bot/message/reply", reply, token=line.channel.access_token)[0] == 200
    )
    assert (
        call(line.server, "POST", "/v2/bot/message/reply", reply, token=line.channel.access_token)[0] == 400
    )
    assert _Receiver.received[1][0].message.text == "via control API"


def test_control_api(line):
    status, _, user = call(line.server, "POST", "/_standin/users", {"display_name": "陳先生"})
    assert status == 200 and user["user_id"].startswith("U")
    call(line.server, "POST", "/_standin/faults", {"kind": "status", "status": 503, "count": 1})
    assert push(line)[0] == 503
    assert push(line)[0] == 200
    status, _, listing = call(line.server, "GET", f"/_standin/deliveries?user_id={line.user.user_id}")
    assert [d["messages"] for d in listing["deliveries"]] == [[{"type": "text", "text": "hi"}]]
    status, _, token = call(
        line.server,
        "POST",
        "/_standin/reply-tokens",
        {"channel_id": line.channel.channel_id, "to": line.user.user_id},
    )
    assert len(token["replyToken"]) == 32
    status, _, minted = call(
        line.server, "POST", "/_standin/id-tokens", {"user_id": line.user.user_id, "client_id": "1"}
    )
    assert minted["id_token"].count(".") == 2
    assert call(line.server, "GET", "/_standin/health")[2]["ok"] is True
    assert call(line.server, "POST", "/_standin/reset", {})[0] == 200
    assert not line.server.delivered()


@pytest.mark.django_db
def test_command_loads_line_inboxes(brand, monkeypatch):
    from django.core.management import call_command

    from omo.devtools.management.commands import line_standin as command
    from omo.inbox.models import Inbox

    Inbox.objects.create(
        brand=brand,
        platform="line",
        name="LINE",
        external_id="1650001",
        bot_user_id="U" + "c" * 32,
        secrets={"channel_secret": "s", "access_token": "tok"},
    )
    captured = {}

    def fake_serve(host, port, *, setup):
        standin = LineStandIn()
        setup(standin)
        captured["channels"] = {c.channel_id: c for c in standin.channels.values()}

    monkeypatch.setattr(command, "serve", fake_serve)
    call_command("line_standin", "--port", "0")
    channel = captured["channels"]["1650001"]
    assert (channel.access_token, channel.channel_secret, channel.bot_user_id) == ("tok", "s", "U" + "c" * 32)


def _image(original: str, preview: str | None = None) -> dict[str, Any]:
    return {"type": "image", "originalContentUrl": original, "previewImageUrl": preview or original}


def _card(image_url: str) -> dict[str, Any]:
    bubble = {
        "type": "bubble",
        "hero": {"type": "image", "url": image_url, "size": "full"},
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "帆布包"}]},
    }
    return {"type": "flex", "altText": "商品推薦", "contents": {"type": "carousel", "contents": [bubble]}}


@pytest.mark.parametrize(
    ("message", "prop", "words"),
    [
        (_image("https://shop.example/p/1.svg"), "messages[0].originalContentUrl", "JPEG or PNG"),
        (_image("https://shop.example/p/1.webp"), "messages[0].originalContentUrl", "JPEG or PNG"),
        (_image("https://shop.example/p/1.gif"), "messages[0].originalContentUrl", "JPEG or PNG"),
        (_image("http://shop.example/p/1.jpg"), "messages[0].originalContentUrl", "HTTPS"),
        (_image("https://shop.example/p/1.jpg", "/media/p/1.png"), "messages[0].previewImageUrl", "HTTPS"),
        (
            _image("https://shop.example/p/" + "x" * 2000 + ".jpg"),
            "messages[0].originalContentUrl",
            "2000",
        ),
        (
            _card("https://shop.example/static/demo/products/3.svg"),
            "contents.contents[0].hero.url",
            "JPEG or PNG",
        ),
        (_card("http://127.0.0.1:8000/media/products/a.png"), "contents.contents[0].hero.url", "HTTPS"),
    ],
)
def test_image_urls_must_be_https_jpeg_or_png(line, message, prop, words):
    status, _, answer = push(line, {"to": line.user.user_id, "messages": [message]})

    assert status == 400, answer
    assert any(prop in d["property"] and words in d["message"] for d in answer["details"]), answer
    assert not line.server.delivered()


def test_https_jpeg_and_png_images_are_delivered(line):
    messages = [
        _image("https://shop.example/p/1.JPG?v=3", "https://shop.example/p/1-preview.jpeg"),
        _card("https://shop.example/media/products/line/7.png"),
    ]
    status, _, answer = push(line, {"to": line.user.user_id, "messages": messages})

    assert status == 200, answer
    assert len(line.server.delivered()) == 1
