import django.db.models.deletion
from django.db import migrations, models


def compress_bodies_with_lz4(apps, schema_editor):
    """Bodies are JSON of a few kB: lz4 keeps them in the row, faster than PostgreSQL's default pglz."""
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name("inbox_webhookintake")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone()[0]:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET COMPRESSION lz4")


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_message_created_at_event_time"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookIntake",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("body", models.BinaryField()),
                ("received_at", models.DateTimeField()),
                (
                    "inbox",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inbox.inbox",
                    ),
                ),
            ],
        ),
        migrations.RunPython(compress_bodies_with_lz4, migrations.RunPython.noop),
    ]
