"""`omo inbox connect-line` and `omo inbox list`, against the LINE stand-in."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from omo.core.models import AuditLog
from omo.inbox.models import Inbox

pytestmark = pytest.mark.django_db


def _connect(brand: Any, channel: Any, *extra: str) -> dict[str, Any]:
    out = StringIO()
    call_command(
        "inbox",
        "connect-line",
        "--brand",
        brand.slug,
        "--channel-id",
        channel.channel_id,
        "--channel-secret",
        channel.channel_secret,
        # with "=": a token may begin with "-", which on its own would read as an option
        f"--access-token={channel.access_token}",
        *extra,
        stdout=out,
    )
    return json.loads(out.getvalue())


def test_connect_line_prints_json(brand, line_standin, settings):
    settings.BASE_URL = "http://127.0.0.1:8000"
    channel = line_standin.add_channel(display_name="草本生活", basic_id="@herbshop")

    printed = _connect(
        brand, channel, "--name", "草本 LINE", "--plan-included", "3000", "--plan-extra-price", "0.2"
    )

    inbox = Inbox.objects.get()
    assert printed["inbox_id"] == inbox.pk
    assert printed["webhook_url"] == f"http://127.0.0.1:8000/webhooks/line/{inbox.pk}"
    assert printed["bot"] == {"display_name": "草本生活", "basic_id": "@herbshop"}
    assert printed["webhook_set"] is False
    assert printed["webhook_test"] is None
    assert inbox.name == "草本 LINE"
    assert inbox.config["plan"] == {"included": 3000, "extra_price": 20}
    assert AuditLog.objects.get(action="inbox.line_connected").actor_label == "system"

    out = StringIO()
    call_command("inbox", "list", "--brand", brand.slug, stdout=out)
    assert json.loads(out.getvalue())["inbox_id"] == inbox.pk


def test_connect_line_over_https_reports_the_webhook_test(brand, line_standin, settings):
    settings.BASE_URL = "https://127.0.0.1:9"  # nothing listens there: LINE's test cannot connect
    channel = line_standin.add_channel()

    printed = _connect(brand, channel)

    assert printed["webhook_set"] is True
    assert printed["webhook_test"]["success"] is False
    assert printed["webhook_test"]["reason"] == "COULD_NOT_CONNECT"
    assert printed["webhook_test"]["statusCode"] == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"channel_secret": "nothex"}, "channel_secret: must be the 32 hexadecimal"),
        ({"access_token": "revoked"}, "access_token: LINE refused this channel access token (401)"),
    ],
)
def test_bad_input_exits_non_zero_with_the_error(brand, line_standin, change, words):
    channel = line_standin.add_channel()
    for name, value in change.items():
        setattr(channel, name, value)

    with pytest.raises(CommandError) as caught:
        _connect(brand, channel)

    assert words in str(caught.value)
    assert caught.value.returncode == 1
    assert not Inbox.objects.exists()


def test_unknown_brand(line_standin):
    channel = line_standin.add_channel()
    with pytest.raises(CommandError, match="no brand with slug"):
        _connect(type("B", (), {"slug": "nope"})(), channel)
