"""Connecting a LINE official account, against the LINE stand-in."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from omo.core.models import AuditLog
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Inbox
from omo.platforms.base import PlatformError
from omo.platforms.line import connect
from omo.platforms.line.connect import LineAccountError
from omo.staff.actors import actor_for_user
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_channel(line_standin: Any) -> Any:
    return line_standin.add_channel(display_name="草本生活", basic_id="@herbshop")


@pytest.fixture
def admin_actor(hq_admin: Any) -> Any:
    return actor_for_user(hq_admin)


def _connect(brand: Any, actor: Any, channel: Any, **kw: Any) -> connect.ConnectResult:
    return connect.connect_line(
        brand,
        actor=actor,
        channel_id=kw.pop("channel_id", channel.channel_id),
        channel_secret=kw.pop("channel_secret", channel.channel_secret),
        access_token=kw.pop("access_token", channel.access_token),
        **kw,
    )


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(line_standin: Any, settings: Any) -> Iterator[type[_Receiver]]:
    """Our public HTTPS URL, served locally by a tiny server the stand-in posts its test to."""
    _Receiver.received = []
    _Receiver.status = 200
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.BASE_URL = "https://omo.example.com"
    line_standin.webhook_hosts["https://omo.example.com"] = f"http://127.0.0.1:{server.server_port}"
    yield _Receiver
    server.shutdown()


def test_connect_over_https_sets_and_tests_the_webhook(
    brand, admin_actor, new_channel, line_standin, receiver
):
    result = _connect(brand, admin_actor, new_channel, plan_included=3000, plan_extra_price="0.2")

    inbox = Inbox.objects.get(pk=result.inbox.pk)
    assert inbox.platform == "line"
    assert inbox.brand == brand
    assert inbox.name == "草本生活"
    assert inbox.external_id == new_channel.channel_id
    assert inbox.handle == "@herbshop"
    assert inbox.bot_user_id == new_channel.bot_user_id
    assert inbox.secrets == {
        "channel_secret": new_channel.channel_secret,
        "access_token": new_channel.access_token,
    }
    assert inbox.config == {
        "login_channel_id": "",
        "liff_id": "",
        "plan": {"included": 3000, "extra_price": 20},
    }
    assert result.webhook_url == f"https://omo.example.com/webhooks/line/{inbox.pk}"
    assert result.webhook_set is True
    assert new_channel.webhook_endpoint == result.webhook_url
    assert result.webhook_test is not None
    assert result.webhook_test.success is True
    assert result.webhook_test.status_code == 200
    assert result.webhook_test.reason == "OK"
    # LINE's test really reached our URL, signed with the channel secret, with no events.
    [(path, headers, body)] = receiver.received
    assert path == f"/webhooks/line/{inbox.pk}"
    assert json.loads(body) == {"destination": new_channel.bot_user_id, "events": []}
    assert headers["X-Line-Signature"] == wh.sign(new_channel.channel_secret, body)
    actions = list(
        AuditLog.objects.filter(target_id=str(inbox.pk)).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["inbox.line_connected", "inbox.line_webhook_set"]
    assert result.as_dict()["bot"] == {"display_name": "草本生活", "basic_id": "@herbshop"}


def test_webhook_test_failure_is_reported_as_line_reports_it(brand, admin_actor, new_channel, receiver):
    receiver.status = 500

    result = _connect(brand, admin_actor, new_channel)

    assert result.webhook_set is True
    assert result.webhook_test is not None
    assert (result.webhook_test.success, result.webhook_test.status_code) == (False, 500)
    assert result.webhook_test.reason == "ERROR_STATUS_CODE"


def test_http_public_url_saves_without_calling_line_and_says_where_to_paste(
    brand, admin_actor, new_channel, line_standin, settings
):
    settings.BASE_URL = "http://127.0.0.1:8000"

    result = _connect(brand, admin_actor, new_channel)

    assert Inbox.objects.filter(pk=result.inbox.pk).exists()
    assert result.webhook_set is False
    assert result.webhook_test is None
    assert result.webhook_url == f"http://127.0.0.1:8000/webhooks/line/{result.inbox.pk}"
    assert "not HTTPS" in result.notes[0]
    assert line_standin.calls("/v2/bot/channel/webhook/endpoint") == []
    assert line_standin.calls("/v2/bot/channel/webhook/test") == []
    assert new_channel.webhook_endpoint == ""


def test_wrong_token_saves_nothing(brand, admin_actor, new_channel, line_standin, settings):
    settings.BASE_URL = "https://omo.example.com"
    line_standin.revoke_token(new_channel.access_token)

    with pytest.raises(LineAccountError) as caught:
        _connect(brand, admin_actor, new_channel)

    assert caught.value.field == "access_token"
    assert "401" in caught.value.message
    assert not Inbox.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="inbox.").exists()
    assert [c["status"] for c in line_standin.calls("/v2/bot/info")] == [401]
    assert line_standin.calls("/v2/bot/channel/webhook/endpoint") == []


def test_line_unreachable_saves_nothing(brand, admin_actor, new_channel, line_standin):
    line_standin.inject("status", status=500, paths=["/v2/bot/info"])

    with pytest.raises(PlatformError, match="try again later"):
        _connect(brand, admin_actor, new_channel)
    assert not Inbox.objects.exists()


def test_line_down_is_a_platform_error(brand, admin_actor, new_channel, settings):
    settings.OMO_LINE_API_BASE = "http://127.0.0.1:9"

    with pytest.raises(PlatformError, match="nothing was saved"):
        _connect(brand, admin_actor, new_channel)
    assert not Inbox.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("channel_id", "abc", "digits"),
        ("channel_secret", "not-hex", "32 hexadecimal"),
        ("channel_secret", "a" * 31, "32 hexadecimal"),
        ("access_token", "", "required"),
        ("access_token", "two words", "without spaces"),
        ("liff_id", "nope", "LIFF"),
        ("login_channel_id", "x1", "digits"),
        ("plan_included", "-1", "between"),
        ("plan_extra_price", "0.001", "two decimals"),
        ("plan_extra_price", "lots", "NT$"),
    ],
)
def test_bad_inputs_name_the_field_and_call_nobody(
    brand, admin_actor, new_channel, line_standin, field, value, words
):
    with pytest.raises(LineAccountError) as caught:
        _connect(brand, admin_actor, new_channel, **{field: value})

    assert caught.value.field == field
    assert words in caught.value.message
    assert line_standin.calls() == []
    assert not Inbox.objects.exists()


def test_same_channel_twice_is_refused_in_the_brand_and_across_brands(
    brand, other_brand, admin_actor, other_admin, new_channel
):
    first = _connect(brand, admin_actor, new_channel)

    with pytest.raises(LineAccountError, match="already connected as") as same:
        _connect(brand, admin_actor, new_channel)
    with pytest.raises(LineAccountError, match="another brand") as other:
        _connect(other_brand, actor_for_user(other_admin), new_channel)

    assert same.value.status == other.value.status == 409
    assert list(Inbox.objects.values_list("pk", flat=True)) == [first.inbox.pk]


def test_rotate_checks_the_new_token_before_saving(brand, admin_actor, new_channel, line_standin):
    inbox = _connect(brand, admin_actor, new_channel).inbox
    line_standin.revoke_token(new_channel.access_token)
    replacement = line_standin.add_channel(
        channel_id=new_channel.channel_id,
        channel_secret=new_channel.channel_secret,
        bot_user_id=new_channel.bot_user_id,
    )

    with pytest.raises(LineAccountError, match="401"):
        connect.rotate_credentials(inbox, actor=admin_actor, access_token="revoked-token")
    inbox.refresh_from_db()
    assert inbox.secrets["access_token"] == new_channel.access_token

    new_secret = "0123456789abcdef0123456789ABCDEF"
    connect.rotate_credentials(
        inbox, actor=admin_actor, channel_secret=new_secret, access_token=replacement.access_token
    )
    inbox.refresh_from_db()
    assert inbox.secrets == {"channel_secret": new_secret.lower(), "access_token": replacement.access_token}
    log = AuditLog.objects.get(action="inbox.line_rotated")
    assert log.detail == {
        "rotated": ["channel_secret", "access_token"],
        "token_last4": replacement.access_token[-4:],
    }


def test_rotate_refuses_a_token_of_another_account(brand, admin_actor, new_channel, line_standin):
    inbox = _connect(brand, admin_actor, new_channel).inbox
    stranger = line_standin.add_channel()

    with pytest.raises(LineAccountError, match="another LINE official account"):
        connect.rotate_credentials(inbox, actor=admin_actor, access_token=stranger.access_token)


def test_settings_and_plan(brand, admin_actor, new_channel):
    inbox = _connect(brand, admin_actor, new_channel).inbox

    connect.update_settings(
        inbox,
        actor=admin_actor,
        name="草本 LINE",
        login_channel_id="2000000009",
        liff_id="2000000009-AbCdEfGh",
        plan_included="6000",
        plan_extra_price="0.15",
    )

    inbox.refresh_from_db()
    assert inbox.name == "草本 LINE"
    assert inbox.config == {
        "login_channel_id": "2000000009",
        "liff_id": "2000000009-AbCdEfGh",
        "plan": {"included": 6000, "extra_price": 15},
    }
    log = AuditLog.objects.get(action="inbox.updated")
    assert log.detail == {"fields": ["liff_id", "login_channel_id", "name", "plan"]}


def test_disconnect_keeps_history_refuses_webhooks_and_can_reconnect(brand, admin_actor, new_channel):
    inbox = _connect(brand, admin_actor, new_channel).inbox
    status, _ = post_line_webhook(inbox)
    assert status == 200

    connect.disconnect(inbox, actor=admin_actor)

    inbox.refresh_from_db()
    assert inbox.is_active is False
    assert inbox.secrets["access_token"] == new_channel.access_token
    status, body = post_line_webhook(inbox)
    assert (status, body["error"]) == (404, "unknown_inbox")

    connect.reconnect(inbox, actor=admin_actor)
    inbox.refresh_from_db()
    assert inbox.is_active is True
    assert post_line_webhook(inbox)[0] == 200
    actions = list(
        AuditLog.objects.filter(action__in=["inbox.disconnected", "inbox.reconnected"]).values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["inbox.disconnected", "inbox.reconnected"]


def test_last_webhook_shows_a_wrong_secret_then_processed_events(
    brand, admin_actor, new_channel, line_standin
):
    from omo.inbox.selectors import last_webhook
    from omo.platforms.tasks import process_pending

    inbox = _connect(brand, admin_actor, new_channel).inbox
    assert last_webhook(inbox).outcome == "none"

    status, _ = post_line_webhook(inbox, signature=wh.sign("f" * 32, b"{}"))
    assert status == 401
    inbox.refresh_from_db()
    assert last_webhook(inbox).outcome == "signature_failed"
    connect.rotate_credentials(inbox, actor=admin_actor, channel_secret=new_channel.channel_secret)
    inbox.refresh_from_db()
    assert last_webhook(inbox).outcome == "none"

    user = line_standin.add_user(display_name="林小姐")
    status, _ = post_line_webhook(inbox, wh.follow_event(user.user_id), wh.text_event(user.user_id, "你好"))
    assert status == 200
    assert (last_webhook(inbox).outcome, last_webhook(inbox).events, last_webhook(inbox).pending) == (
        "pending",
        2,
        2,
    )
    process_pending(inbox.pk)
    done = last_webhook(inbox)
    assert (done.outcome, done.events, done.processed, done.failed) == ("processed", 2, 2, 0)
