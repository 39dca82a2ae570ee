import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_follows_the_model(apps, schema_editor):
    """Permissions and admin history of shifts point at inbox's content type: hand it to staff."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    if not types.filter(app_label="staff", model="shift").exists():
        types.filter(app_label="inbox", model="shift").update(app_label="staff")


def content_type_back_to_inbox(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    if not types.filter(app_label="inbox", model="shift").exists():
        types.filter(app_label="staff", model="shift").update(app_label="inbox")


class Migration(migrations.Migration):
    """Shift moves here from inbox in the model state only: the table inbox_shift, its rows, index and
    check constraint are left as they are (created by inbox 0001)."""

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("inbox", "0004_shift_moved_to_staff"),
        ("staff", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Shift",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("starts_at", models.DateTimeField()),
                        ("ends_at", models.DateTimeField()),
                        (
                            "brand",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="core.brand",
                            ),
                        ),
                        (
                            "staff",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shifts",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "store",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shifts",
                                to="staff.store",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inbox_shift",
                        "indexes": [models.Index(fields=["staff", "starts_at"], name="shift_by_staff")],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                                name="shift_ends_after_start",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows_the_model, content_type_back_to_inbox, elidable=True),
    ]
