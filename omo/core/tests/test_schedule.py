import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.core import schedule
from omo.core.models import PeriodicRun

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def _job(name: str) -> tuple[schedule.PeriodicJob, ...]:
    return tuple(job for job in schedule.registered() if job.name == name)


def _enqueued(task_path: str) -> int:
    return DBTaskResult.objects.filter(task_path=task_path).count()


def test_a_due_job_is_enqueued_once_per_interval(db):
    now = timezone.now()
    minutely = _job("inbox.sweep_stuck_messages")
    assert schedule.tick(now, jobs=minutely) == ["inbox.sweep_stuck_messages"]
    assert schedule.tick(now + dt.timedelta(seconds=30), jobs=minutely) == []  # another worker: nothing
    assert schedule.tick(now + dt.timedelta(seconds=61), jobs=minutely) == ["inbox.sweep_stuck_messages"]
    assert _enqueued("omo.inbox.tasks.sweep_stuck_messages") == 2


@pytest.mark.django_db
def test_a_nightly_job_runs_at_its_hour_not_when_the_first_worker_started(settings):
    settings.TIME_ZONE = "Asia/Taipei"
    nightly = _job("loyalty.nightly")
    assert nightly[0].at == dt.time(3, 0)
    afternoon = dt.datetime(2026, 12, 7, 14, 0, tzinfo=TAIPEI)
    # A new installation starts in the afternoon: the nightly pass waits for the night.
    assert schedule.tick(afternoon, jobs=nightly) == []
    assert schedule.tick(afternoon.replace(hour=23, minute=59), jobs=nightly) == []
    night = dt.datetime(2026, 12, 8, 3, 0, 4, tzinfo=TAIPEI)
    assert schedule.tick(night, jobs=nightly) == ["loyalty.nightly"]
    assert schedule.tick(night + dt.timedelta(minutes=1), jobs=nightly) == []  # another worker
    assert schedule.tick(night.replace(hour=23), jobs=nightly) == []
    # Workers down over the night: the pass runs at the first tick after they come back, once.
    late = dt.datetime(2026, 12, 9, 9, 15, tzinfo=TAIPEI)
    assert schedule.tick(late, jobs=nightly) == ["loyalty.nightly"]
    assert schedule.tick(late.replace(hour=10), jobs=nightly) == []
    assert schedule.tick(dt.datetime(2026, 12, 10, 3, 0, tzinfo=TAIPEI), jobs=nightly) == ["loyalty.nightly"]
    assert _enqueued("omo.loyalty.tasks.nightly_loyalty_all_brands") == 3


@pytest.mark.django_db
def test_a_nightly_job_that_never_ran_before_keeps_its_hour(settings):
    """A row left without a time (an installation from before times of day) runs at the next tick."""
    settings.TIME_ZONE = "Asia/Taipei"
    PeriodicRun.objects.create(name="loyalty.nightly", last_enqueued_at=None)
    nightly = _job("loyalty.nightly")
    assert schedule.tick(dt.datetime(2026, 12, 7, 14, 0, tzinfo=TAIPEI), jobs=nightly) == ["loyalty.nightly"]
    assert schedule.tick(dt.datetime(2026, 12, 8, 2, 59, tzinfo=TAIPEI), jobs=nightly) == []
    assert schedule.tick(dt.datetime(2026, 12, 8, 3, 0, tzinfo=TAIPEI), jobs=nightly) == ["loyalty.nightly"]


def test_a_time_of_day_is_for_daily_jobs():
    [job] = _job("loyalty.nightly")
    with pytest.raises(ValueError, match="daily"):
        schedule.register("test.hourly", job.task, dt.timedelta(hours=1), at=dt.time(3, 0))
