"""Customer search: a trigram GIN index on search_text (PostgreSQL only; SQLite keeps a plain scan)."""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_search_trgm ON customers_customer USING gin (search_text gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS customer_search_trgm"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_identity_merge_consent")]

    operations = [migrations.RunPython(forwards, backwards)]
