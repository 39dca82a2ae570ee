"""Every paginated list of the API refuses a page it cannot serve with 400 JSON naming the parameter.

The lists are found in the OpenAPI document (every GET that takes `offset`), so a new list is
covered without a line here.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from omo.core.api import MAX_OFFSET, MAX_PAGE_SIZE

pytestmark = pytest.mark.django_db

BAD_PAGES = [
    ("offset", "9223372036854775808"),  # past a 64-bit integer: used to reach SQL and answer 500
    ("offset", "9223372036854775807"),
    ("offset", str(MAX_OFFSET + 1)),
    ("offset", "-1"),
    ("offset", "abc"),
    ("limit", "9223372036854775808"),
    ("limit", str(MAX_PAGE_SIZE + 1)),
    ("limit", "0"),
    ("limit", "-5"),
]


def _paginated_lists() -> list[str]:
    document = Client().get("/api/v1/openapi.json").json()
    lists = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get and any(p["name"] == "offset" and p["in"] == "query" for p in get.get("parameters", [])):
            lists.append(
                re.sub(r"\{[^}]+\}", "1", path)
            )  # query parameters are checked before the path's row
    return sorted(lists)


def test_the_document_lists_the_paginated_lists(brand):
    lists = _paginated_lists()
    assert "/api/v1/orders" in lists and "/api/v1/customers" in lists and len(lists) >= 15


@pytest.mark.parametrize(("name", "value"), BAD_PAGES)
def test_every_list_answers_400_naming_the_bad_page_parameter(api, name, value):
    for path in _paginated_lists():
        response = api.get(path, **{name: value})
        assert response.status_code == 400, (path, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["code"] == "invalid_page" and body["field"] == name, path
        assert body["detail"].startswith(f"{name} must be a whole number from "), body


def test_the_largest_page_is_served(api):
    response = api.get("/api/v1/customers", offset=str(MAX_OFFSET), limit=str(MAX_PAGE_SIZE))
    assert response.status_code == 200
    assert response.json() == {"total": 0, "limit": MAX_PAGE_SIZE, "offset": MAX_OFFSET, "items": []}


def test_other_invalid_query_fields_keep_their_422(api):
    response = api.get("/api/v1/orders", placed_after="not a time")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "placed_after"]
