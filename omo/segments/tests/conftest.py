"""Fixtures of the segments tests: an HQ actor and a few customers with tags."""

from __future__ import annotations

import pytest

from omo.core.audit import Actor
from omo.testing import factories as f


@pytest.fixture
def hq(brand, hq_admin) -> Actor:
    return Actor(brand=brand, user=hq_admin, role="hq_admin")


@pytest.fixture
def vip(brand):
    return f.make_customer(brand, name="林VIP", phone="+886912000001", tags=["VIP"], member_number="M001")


@pytest.fixture
def plain(brand):
    return f.make_customer(brand, name="陳一般", phone="+886912000002", email="chen@example.com")
