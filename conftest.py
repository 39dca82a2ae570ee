"""Shared pytest fixtures: two brands, stores, staff of every role, API keys and API clients."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine
from django.test import Client

from omo.testing import factories as f

pytest_plugins = ["omo.testing.browser", "omo.testing.line"]


def _session_clock() -> dt.datetime | None:
    raw = os.environ.get("OMO_TEST_CLOCK", "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"OMO_TEST_CLOCK={raw!r} is not an ISO datetime: {exc}") from None
    if moment.tzinfo is None:
        # Without an offset the moment would depend on the machine's zone; the point is to pick it.
        raise pytest.UsageError(f"OMO_TEST_CLOCK={raw!r} needs an offset, e.g. 2027-03-01T00:05:00+08:00")
    return moment


@pytest.fixture(scope="session", autouse=True)
def session_clock():
    """Run the whole suite as if it were the moment in OMO_TEST_CLOCK; a test's own pin nests inside."""
    moment = _session_clock()
    if moment is None:
        yield None
        return
    with time_machine.travel(moment, tick=True):
        yield moment


@pytest.fixture
def brand(db):
    return f.make_brand("草本生活", slug="herb")


@pytest.fixture
def other_brand(db):
    return f.make_brand("別家品牌", slug="other")


@pytest.fixture
def store(brand):
    return f.make_store(brand, code="TPE01", name="台北信義店", city="台北市")


@pytest.fixture
def other_store(brand):
    return f.make_store(brand, code="KHH01", name="高雄夢時代店", city="高雄市")


@pytest.fixture
def warehouse(brand):
    return f.make_location(brand, code="WH", name="線上倉", kind="warehouse", ships_online_orders=True)


@pytest.fixture
def hq_admin(brand):
    return f.make_user(brand, "admin", role="hq_admin")


@pytest.fixture
def hq_agent(brand):
    return f.make_user(brand, "agent", role="hq_agent")


@pytest.fixture
def manager(brand, store):
    return f.make_user(brand, "manager", role="store_manager", store=store)


@pytest.fixture
def clerk(brand, store):
    return f.make_user(brand, "clerk", role="clerk", store=store, employee_code="E001")


@pytest.fixture
def other_admin(other_brand):
    return f.make_user(other_brand, "other-admin", role="hq_admin")


@pytest.fixture
def api_key(brand):
    return f.make_api_key(brand, role="hq_admin")


@pytest.fixture
def other_api_key(other_brand):
    return f.make_api_key(other_brand, role="hq_admin")


@pytest.fixture
def api(api_key):
    """A test client that sends the brand's admin key."""
    return f.ApiClient(api_key)


@pytest.fixture
def other_api(other_api_key):
    return f.ApiClient(other_api_key)


@pytest.fixture
def clerk_api(brand):
    return f.ApiClient(f.make_api_key(brand, role="clerk"))


@pytest.fixture
def console(hq_admin):
    client = Client()
    client.force_login(hq_admin)
    return client
