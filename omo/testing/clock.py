"""The moment a test run pretends it is: OMO_TEST_CLOCK, an ISO datetime with its offset.

The root conftest travels there for the whole session (the clock keeps ticking); a test that pins
its own moment with time-machine nests inside and wins.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

ENV = "OMO_TEST_CLOCK"


def session_moment(raw: str | None) -> dt.datetime | None:
    """None when unset or blank; ValueError, naming the variable, when it is not a moment with an offset."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV}={raw!r} is not an ISO datetime: {exc}") from None
    if moment.tzinfo is None:
        # Without an offset the moment would follow whatever zone the process runs in; the point is to pick it.
        raise ValueError(f"{ENV}={raw!r} needs an offset, e.g. 2027-03-01T00:05:00+08:00")
    return moment


TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")

# Stores made by omo.testing.factories open 11:00–21:30 every day. These marks pin a test's clock,
# ticking from there, before any of its fixtures run.
STORES_OPEN = pytest.mark.time_machine(dt.datetime(2027, 3, 15, 14, 0, tzinfo=TAIPEI), tick=True)
STORES_CLOSED = pytest.mark.time_machine(dt.datetime(2027, 3, 15, 23, 0, tzinfo=TAIPEI), tick=True)
