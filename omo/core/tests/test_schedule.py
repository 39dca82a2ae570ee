import datetime as dt

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.core import schedule


def test_a_due_job_is_enqueued_once_per_interval(db):
    now = timezone.now()
    nightly = tuple(
        job for job in schedule.registered() if job.name == "loyalty.nightly"
    )  # other jobs have other intervals
    assert schedule.tick(now, jobs=nightly) == ["loyalty.nightly"]
    assert schedule.tick(now + dt.timedelta(hours=1), jobs=nightly) == []  # another worker, same day: nothing
    assert schedule.tick(now + dt.timedelta(hours=25), jobs=nightly) == ["loyalty.nightly"]
    assert DBTaskResult.objects.filter(task_path="omo.loyalty.tasks.nightly_loyalty_all_brands").count() == 2
