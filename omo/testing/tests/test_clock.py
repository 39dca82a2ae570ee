"""OMO_TEST_CLOCK: the moment a run pretends it is, and a test's own pin inside it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from omo.testing import clock

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def test_a_moment_with_its_offset_is_read():
    moment = clock.session_moment(" 2027-03-01T00:05:00+08:00 ")
    assert moment == dt.datetime(2027, 2, 28, 16, 5, tzinfo=dt.UTC)
    assert clock.session_moment("2027-03-01T00:05:00Z") == dt.datetime(2027, 3, 1, 0, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_unset_means_the_real_clock(raw):
    assert clock.session_moment(raw) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("2027-03-01T00:05:00", "needs an offset"),
        ("2027-03-01", "needs an offset"),
        ("tomorrow", "is not an ISO datetime"),
        ("2027-02-30T00:00:00+08:00", "is not an ISO datetime"),
    ],
)
def test_a_moment_without_an_offset_or_not_a_moment_is_refused(raw, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        clock.session_moment(raw)
    assert "OMO_TEST_CLOCK" in str(refused.value)


def test_the_session_runs_at_the_moment_it_was_given(session_clock):
    if session_clock is None:
        pytest.skip("OMO_TEST_CLOCK is not set")
    elapsed = timezone.now() - session_clock
    assert dt.timedelta(0) <= elapsed < dt.timedelta(hours=6)  # the clock started there and kept ticking


@pytest.mark.time_machine(dt.datetime(2030, 1, 1, 9, 0, tzinfo=TAIPEI), tick=False)
def test_a_tests_own_pin_wins():
    assert timezone.localtime(timezone.now(), TAIPEI) == dt.datetime(2030, 1, 1, 9, 0, tzinfo=TAIPEI)


def test_the_session_clock_is_back_after_a_pinned_test(session_clock):
    now = timezone.now()
    expected = session_clock or dt.datetime.now(dt.UTC)
    assert now.year < 2030 and abs(now - expected) < dt.timedelta(hours=6)
