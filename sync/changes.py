"""The change index: where each record stands in the pull order, per team bucket.

PostgreSQL: position = (txid, id) with txid the writing transaction's xid8.
A pull reads only rows with txid below pg_snapshot_xmin(pg_current_snapshot()),
the oldest transaction still running: everything below it has committed or
aborted, so no row can later appear behind a cursor (sync.md invariant 6).

SQLite: position = (counter, id). SQLite lets one writer in at a time and
the counter is bumped inside the writing transaction, so counter order is
commit order.
"""

from django.db import connection
from django.utils import timezone

from .models import Change

MAX_ID = 2**63 - 1


def is_postgres():
    return connection.vendor == "postgresql"


def _sqlite_next_position(cursor):
    cursor.execute("INSERT OR IGNORE INTO sync_synccounter (name, value) VALUES ('change', 0)")
    cursor.execute("UPDATE sync_synccounter SET value = value + 1 WHERE name = 'change' RETURNING value")
    return cursor.fetchone()[0]


def write_changes(rows):
    """Upsert change rows: [(record_type, record_id, team_id, program_id, op, version)].

    One row per (record, team): writing it again moves it to this
    transaction's position.
    """
    if not rows:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.executemany(
                """
                INSERT INTO sync_change (record_type, record_id, team_id, program_id, op, version, changed_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (record_id, team_id) DO UPDATE SET
                    record_type = EXCLUDED.record_type, program_id = EXCLUDED.program_id, op = EXCLUDED.op,
                    version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, txid = pg_current_xact_id()
                """,
                [(*row, now) for row in rows],
            )
        else:
            position = _sqlite_next_position(cursor)
            cursor.executemany(
                """
                INSERT INTO sync_change (record_type, record_id, team_id, program_id, op, version, changed_at, txid)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (record_id, team_id) DO UPDATE SET
                    record_type = excluded.record_type, program_id = excluded.program_id, op = excluded.op,
                    version = excluded.version, changed_at = excluded.changed_at, txid = excluded.txid
                """,
                [(r[0], r[1].hex if hasattr(r[1], "hex") else r[1], *r[2:], now, position) for r in rows],
            )


def record_change_rows(spec_name, instance, op, old_team_id=None):
    rows = [(spec_name, instance.pk, instance.team_id, instance.program_id, op, instance.version)]
    if old_team_id is not None and old_team_id != instance.team_id:
        rows.append((spec_name, instance.pk, old_team_id, instance.program_id, Change.Op.REMOVE, instance.version))
    return rows


def stable_horizon():
    """The position below which every change is final: (txid, id) pairs with txid < this are all visible."""
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            return cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(value), 0) + 1 FROM sync_synccounter WHERE name = 'change'")
        return cursor.fetchone()[0]


def read_changes(team_ids, after, limit, below):
    """Change rows of these teams after position `after`=(txid, id) and below txid `below`, in order."""
    if not team_ids:
        return []
    txid, row_id = after
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                """
                SELECT id, record_type, record_id, team_id, op, version, txid::text::bigint
                FROM sync_change
                WHERE team_id = ANY(%s)
                  AND (txid > %s::text::xid8 OR (txid = %s::text::xid8 AND id > %s))
                  AND txid < %s::text::xid8
                ORDER BY txid, id
                LIMIT %s
                """,
                [list(team_ids), str(txid), str(txid), row_id, str(below), limit],
            )
        else:
            placeholders = ",".join(["%s"] * len(team_ids))
            cursor.execute(
                f"""
                SELECT id, record_type, record_id, team_id, op, version, txid
                FROM sync_change
                WHERE team_id IN ({placeholders})
                  AND (txid > %s OR (txid = %s AND id > %s))
                  AND txid < %s
                ORDER BY txid, id
                LIMIT %s
                """,  # noqa: S608 - placeholders only
                [*team_ids, txid, txid, row_id, below, limit],
            )
        return cursor.fetchall()
