"""Writing the change index: each record write moves the record's row(s) to this transaction's position.

How positions are stamped and why a pull never skips a late commit: sync/changes.py, which reads the index.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from .models import Change

# The shared advisory lock every transaction writing change rows holds until it ends ("SYNCHG").
SYNC_WRITER_LOCK = 0x53594E434847

# (record_type, record_id, team_id, program_id, op, version)
ChangeRow = tuple[str, Any, int, int, str, int]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _sqlite_next_position(cursor: Any) -> int:
    cursor.execute("INSERT OR IGNORE INTO sync_synccounter (name, value) VALUES ('change', 0)")
    cursor.execute("UPDATE sync_synccounter SET value = value + 1 WHERE name = 'change' RETURNING value")
    return int(cursor.fetchone()[0])


def write_changes(rows: Sequence[ChangeRow]) -> None:
    """Upsert change rows: [(record_type, record_id, team_id, program_id, op, version)].

    One row per (record, team): writing it again moves it to this
    transaction's position.
    """
    if not rows:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        if is_postgres():
            # The lock first, in a statement of its own: the position below is read from a snapshot taken after
            # it is held, and is at least this transaction's own id (sync/changes.py says why both).
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [SYNC_WRITER_LOCK])
            # One statement for all rows. ON CONFLICT cannot touch a row twice in one statement, so a (record, team)
            # written twice keeps its last row, as the upserts one after another left it.
            latest = {(row[1], row[2]): row for row in rows}
            columns = [list(column) for column in zip(*latest.values(), strict=True)]
            cursor.execute(
                """
                INSERT INTO sync_change (record_type, record_id, team_id, program_id, op, version, changed_at, txid)
                SELECT r.record_type, r.record_id, r.team_id, r.program_id, r.op, r.version, %s,
                       GREATEST(pg_snapshot_xmax(pg_current_snapshot()), pg_current_xact_id())
                FROM unnest(%s::varchar[], %s::uuid[], %s::bigint[], %s::bigint[], %s::varchar[], %s::integer[])
                     AS r(record_type, record_id, team_id, program_id, op, version)
                ON CONFLICT (record_id, team_id) DO UPDATE SET
                    record_type = EXCLUDED.record_type, program_id = EXCLUDED.program_id, op = EXCLUDED.op,
                    version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, txid = EXCLUDED.txid
                """,
                [now, *columns],
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


def record_change_rows(spec_name: str, instance: Any, op: str, old_team_id: int | None = None) -> list[ChangeRow]:
    rows = [(spec_name, instance.pk, instance.team_id, instance.program_id, op, instance.version)]
    if old_team_id is not None and old_team_id != instance.team_id:
        rows.append((spec_name, instance.pk, old_team_id, instance.program_id, Change.Op.REMOVE, instance.version))
    return rows
