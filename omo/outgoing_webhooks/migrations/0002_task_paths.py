"""The app's package was renamed (omo.integrations → omo.outgoing_webhooks): tasks queued before
the rename are stored under their old dotted path, so point them at the new one."""

from django.db import migrations

OLD, NEW = "omo.integrations.", "omo.outgoing_webhooks."


def forwards(apps, schema_editor):
    _repoint(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _repoint(apps, NEW, OLD)


def _repoint(apps, old, new):
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for result in DBTaskResult.objects.filter(task_path__startswith=old).only("pk", "task_path"):
        result.task_path = new + result.task_path.removeprefix(old)
        result.save(update_fields=["task_path"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
