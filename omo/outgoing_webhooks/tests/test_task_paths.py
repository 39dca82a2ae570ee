"""Tasks queued under the app's old package name still run after the rename."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django_tasks_db.models import DBTaskResult

from omo.outgoing_webhooks import tasks

rename = importlib.import_module("omo.outgoing_webhooks.migrations.0002_task_paths")


@pytest.mark.django_db
def test_queued_tasks_are_pointed_at_the_renamed_package():
    queued = tasks.sweep_webhook_deliveries.enqueue()
    DBTaskResult.objects.filter(pk=queued.id).update(
        task_path="omo.integrations.tasks.sweep_webhook_deliveries"
    )
    other = DBTaskResult.objects.exclude(pk=queued.id).count()

    rename.forwards(apps, None)

    row = DBTaskResult.objects.get(pk=queued.id)
    assert row.task_path == "omo.outgoing_webhooks.tasks.sweep_webhook_deliveries"
    assert row.task.func is tasks.sweep_webhook_deliveries.func  # what a worker will run
    assert DBTaskResult.objects.exclude(pk=queued.id).count() == other
    rename.backwards(apps, None)
    assert DBTaskResult.objects.get(pk=queued.id).task_path.startswith("omo.integrations.")
