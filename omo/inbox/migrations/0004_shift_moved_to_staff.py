from django.db import migrations


class Migration(migrations.Migration):
    """The roster belongs to staff now (staff.Shift); its table inbox_shift stays where it is."""

    dependencies = [
        ("inbox", "0003_webhook_intake"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Shift")],
            database_operations=[],
        ),
    ]
