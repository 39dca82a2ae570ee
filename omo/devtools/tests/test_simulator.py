"""The phone simulator's server side: devtools only, clear errors for bad input, nothing sent then."""

from __future__ import annotations

import json

import pytest
from django.urls import resolve

from omo.inbox.models import Inbox


@pytest.fixture
def inbox(brand):
    return Inbox.objects.create(
        brand=brand, platform="line", name="LINE", handle="@herb", external_id="1234567890"
    )


def _post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_hidden_when_devtools_are_off(client, inbox, settings):
    # config.urls mounts the page only when the flag is on at import (production never has it);
    # import it now, as a running process would have, then check the view refuses on its own too.
    resolve("/dev/simulator/")
    settings.OMO_DEVTOOLS = False
    settings.DEBUG = False
    assert client.get("/dev/simulator/").status_code == 404
    assert _post(client, "/dev/simulator/api/say", {"inbox_id": inbox.pk, "text": "hi"}).status_code == 404


def test_page_lists_line_inboxes(client, inbox):
    response = client.get("/dev/simulator/")
    assert response.status_code == 200 and "@herb" in response.content.decode()


def test_bad_link_unknown_code_and_empty_text_are_clear_errors(client, inbox):
    bad = _post(client, "/dev/simulator/api/open-link", {"inbox_id": inbox.pk, "link": "!!"})
    assert bad.status_code == 422 and bad.json()["field"] == "link"
    unknown = _post(client, "/dev/simulator/api/open-link", {"inbox_id": inbox.pk, "link": "/b/ZZZZZZZZZZ"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "link"
    empty = _post(client, "/dev/simulator/api/say", {"inbox_id": inbox.pk, "text": " "})
    assert empty.status_code == 422 and empty.json()["field"] == "text"
    assert _post(client, "/dev/simulator/api/say", {"inbox_id": "x", "text": "hi"}).status_code == 404


def test_nothing_received_before_the_phone_did_anything(client, inbox):
    response = client.get(f"/dev/simulator/api/received?inbox_id={inbox.pk}")
    assert response.json() == {"user_id": None, "messages": []}


def test_a_liff_link_opens_at_the_liff_endpoint_signed_in_as_the_simulated_user(
    client, line_inbox, line_standin, settings
):
    from urllib.parse import parse_qs, urlsplit

    from omo.devtools import line_id_tokens

    settings.OMO_LINE_STANDIN_URL = line_standin.url
    line_inbox.config = {**line_inbox.config, "liff_id": "2000000001-AbcdEfgh"}
    line_inbox.save()
    uri = "https://liff.line.me/2000000001-AbcdEfgh/shop?r=Lab.1:xyz:sig&liff=2000000001-AbcdEfgh"

    response = client.get("/dev/simulator/liff/open", {"inbox": line_inbox.pk, "uri": uri})

    assert response.status_code == 302
    target, _, fragment = response["Location"].partition("#id_token=")
    parts = urlsplit(target)
    assert parts.path == "/b/liff/"
    assert parse_qs(parts.query)["liff.state"] == ["/shop?r=Lab.1:xyz:sig&liff=2000000001-AbcdEfgh"]
    claims = line_id_tokens.read(line_standin._id_token_key, fragment)
    assert claims["aud"] == line_inbox.config["login_channel_id"]
    assert claims["sub"] == client.session[f"simulator:line-user:{line_inbox.pk}"]

    other = client.get(
        "/dev/simulator/liff/open", {"inbox": line_inbox.pk, "uri": uri.replace("AbcdEfgh/", "Zzzz/")}
    )
    assert other.status_code == 404
