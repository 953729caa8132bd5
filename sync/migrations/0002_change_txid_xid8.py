"""On PostgreSQL, the change position is the writing transaction's id (xid8).

Pulls read only rows below pg_snapshot_xmin(pg_current_snapshot()): every
transaction below that horizon has finished, so no row can later appear
behind a cursor. SQLite keeps the bigint counter column (one writer at a time).
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE sync_change ALTER COLUMN txid TYPE xid8 USING (COALESCE(txid, 0)::text::xid8)",
    "ALTER TABLE sync_change ALTER COLUMN txid SET DEFAULT pg_current_xact_id()",
    "ALTER TABLE sync_change ALTER COLUMN txid SET NOT NULL",
]
BACKWARD = [
    "ALTER TABLE sync_change ALTER COLUMN txid DROP NOT NULL",
    "ALTER TABLE sync_change ALTER COLUMN txid DROP DEFAULT",
    "ALTER TABLE sync_change ALTER COLUMN txid TYPE bigint USING (txid::text::bigint)",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("sync", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
