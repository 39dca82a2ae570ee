"""Both LIFF endpoints refuse a bad body the same way, naming the part, before anything is looked up."""

from __future__ import annotations

import json

import pytest
from django.test import Client

ENDPOINTS = [("/b/liff/bind", "clerk"), ("/b/liff/shop/signin", "r")]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "field"), ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"not json", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (json.dumps({"r": "x", "clerk": "x"}).encode(), 400, "idToken"),
        (json.dumps({"idToken": 7, "r": "x", "clerk": "x"}).encode(), 400, "idToken"),
        (json.dumps({"idToken": "t"}).encode(), 400, "FIELD"),
        (b"{" + b" " * 20000 + b"}", 413, "body"),
    ],
)
def test_bad_bodies_are_named(url, field, body, status, names):
    response = Client().post(url, body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["error"]["field"] == (field if names == "FIELD" else names)
