"""The database cache's table (rate-limit counts when no Redis is configured): created by migrate, so no
deployment can run without it. createcachetable skips a table that exists."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("responders", "0002_login_failures_per_address")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
