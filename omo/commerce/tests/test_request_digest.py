"""Request digests stay what they were: an HMAC-SHA256 of each field's canonical JSON under SECRET_KEY."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from django.test import override_settings

from omo.commerce.services import recording

VALUES = [
    "",
    "中文名稱",
    0,
    59000,
    None,
    True,
    [],
    [{"sku": "TEE-M", "title": "", "quantity": 2, "unit_price": 59000, "discount": 0}],
    {"z": 1, "a": [1, 2]},
    dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.date(2026, 11, 20),
    Decimal("12.50"),
]


@pytest.mark.parametrize("secret", ["short-key", "k" * 64, "a much longer secret key " * 5])
def test_each_field_digest_is_the_keyed_hmac_of_its_canonical_json(secret):
    with override_settings(SECRET_KEY=secret):
        for value in VALUES:
            canonical = json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=recording._plain
            )
            expected = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()[:20]
            assert recording._digest(value) == expected, value
