import datetime as dt

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omo.core import schedule


def test_a_due_job_is_enqueued_once_per_interval(db):
    now = timezone.now()
    assert schedule.tick(now) == ["loyalty.nightly"]
    assert schedule.tick(now + dt.timedelta(hours=1)) == []  # another worker, same day: nothing
    assert schedule.tick(now + dt.timedelta(hours=25)) == ["loyalty.nightly"]
    assert DBTaskResult.objects.filter(task_path="omo.loyalty.tasks.nightly_loyalty_all_brands").count() == 2
