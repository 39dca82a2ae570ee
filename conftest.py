"""Shared pytest fixtures: two brands, stores, staff of every role, API keys and API clients."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine
from django.test import Client

from omo.testing import clock
from omo.testing import factories as f

pytest_plugins = ["omo.testing.browser", "omo.testing.line"]


def _session_clock() -> dt.datetime | None:
    try:
        return clock.session_moment(os.environ.get(clock.ENV))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


_SESSION_TRAVEL = pytest.StashKey[time_machine.travel]()


def pytest_configure(config) -> None:
    # The travel starts here, before collection and before any fixture: time-machine's own fixture
    # (and its marker) stops whichever travel is on top of its stack, so the session's must lie
    # beneath every test's pin. A malformed OMO_TEST_CLOCK stops the run before any test.
    moment = _session_clock()
    if moment is not None:
        travel = time_machine.travel(moment, tick=True)
        travel.start()
        config.stash[_SESSION_TRAVEL] = travel


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.postgres` tests run on PostgreSQL only, `@pytest.mark.redis` ones with Redis only
    (`-m postgres` selects them; `make test` with DATABASE_URL and REDIS_URL set runs them all)."""
    if item.get_closest_marker("postgres") is not None:
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL: set DATABASE_URL")
    if item.get_closest_marker("redis") is not None and not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis: set REDIS_URL")


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the site's default language (zh-Hant): a test or a request handled in
    this thread that activated another one must not decide the language of the next test's text."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def pytest_unconfigure(config) -> None:
    travel = config.stash.get(_SESSION_TRAVEL, None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config) -> str | None:
    moment = _session_clock()
    return f"session clock (OMO_TEST_CLOCK): {moment.isoformat()}" if moment else None


@pytest.fixture(scope="session")
def session_clock() -> dt.datetime | None:
    """The moment the run started from (OMO_TEST_CLOCK, see omo/testing/clock.py), or None."""
    return _session_clock()


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
