"""The change index: where each record stands in the pull order, per team bucket.

PostgreSQL: position = (P, id). A transaction that writes change rows first takes a shared, transaction-level
advisory lock (SYNC_WRITER_LOCK), and stamps its rows with P = the snapshot xmax seen after taking it (an
xid8: every transaction id handed out before that moment is below P). A pull reads only rows below its
horizon H = the smaller of its own snapshot xmax and the transaction ids of the transactions holding that
lock now. So:
  - a writer holding the lock when the pull looks has its xid below P, and H at most that xid: its rows,
    committed later, sort above H;
  - a writer that takes the lock after the pull looked stamps P at least the pull's xmax, so at least H;
  - a writer that released the lock has committed (or rolled back) before the pull reads its rows.
A pull takes a transaction id of its own before it looks: an id handed out after a writer read its P is at
least P, so the pull's xmax passes every committed writer's P even on a server where nothing else is running.
No row can appear later below a position a pull has passed (sync.md invariant 6), and only transactions
that write sync changes in this database can hold a pull back: an idle transaction elsewhere on the server,
or one here that writes no sync change, never does (invariant 13).

SQLite: position = (counter, id). SQLite lets one writer in at a time and
the counter is bumped inside the writing transaction, so counter order is
commit order.
"""

import logging
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from .models import Change

MAX_ID = 2**63 - 1
# The shared advisory lock every transaction writing change rows holds until it ends ("SYNCHG").
SYNC_WRITER_LOCK = 0x53594E434847
logger = logging.getLogger("sync.horizon")


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
            # The lock first, in a statement of its own: the position below is read from a snapshot taken after
            # it is held (see the module's docstring).
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [SYNC_WRITER_LOCK])
            cursor.executemany(
                """
                INSERT INTO sync_change (record_type, record_id, team_id, program_id, op, version, changed_at, txid)
                VALUES (%s, %s, %s, %s, %s, %s, %s, pg_snapshot_xmax(pg_current_snapshot()))
                ON CONFLICT (record_id, team_id) DO UPDATE SET
                    record_type = EXCLUDED.record_type, program_id = EXCLUDED.program_id, op = EXCLUDED.op,
                    version = EXCLUDED.version, changed_at = EXCLUDED.changed_at, txid = EXCLUDED.txid
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


@dataclass(frozen=True)
class Horizon:
    """Where a pull may read up to now. `held_by`: the age in seconds of the oldest sync-writing transaction
    still open when it is what sets the horizon (None when nothing holds the pull back)."""

    below: int
    held_by: float | None = None


# The horizon in one statement: the snapshot (and its xmax) is taken before pg_locks is read. A holder's 32-bit
# xid is widened to the xid8 nearest the snapshot's xmax (transactions are never 2^31 ids apart here). The pull's
# own transaction counts as a holder when it has written changes itself (a test's, never a real pull's): they are
# not final until it commits. The age reported is that of the oldest other holder.
_HORIZON_SQL = """
WITH snap AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
writers AS (
    SELECT a.pid FROM pg_locks a
    WHERE a.locktype = 'advisory' AND a.granted
      AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND a.classid = %(hi)s::oid AND a.objid = %(lo)s::oid AND a.objsubid = 1
),
xids AS (
    SELECT t.pid, snap.xmax
        + (((t.transactionid::text::bigint - snap.xmax %% 4294967296) + 6442450944) %% 4294967296) - 2147483648
        AS xid8
    FROM pg_locks t, snap
    WHERE t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock' AND t.granted
      AND t.pid IN (SELECT pid FROM writers)
),
oldest_other AS (SELECT pid FROM xids WHERE pid <> pg_backend_pid() ORDER BY xid8 LIMIT 1)
SELECT LEAST(snap.xmax, COALESCE((SELECT MIN(xid8) FROM xids), snap.xmax)),
       (SELECT EXTRACT(EPOCH FROM clock_timestamp() - s.xact_start)::float
          FROM pg_stat_activity s WHERE s.pid = (SELECT pid FROM oldest_other))
FROM snap
"""


def stable_horizon():
    """The position below which every change is final: (txid, id) pairs with txid < this are all visible."""
    return horizon().below


def horizon():
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute("SELECT pg_current_xact_id()")  # moves xmax past every P already read (see above)
            cursor.execute(_HORIZON_SQL, {"hi": SYNC_WRITER_LOCK >> 32, "lo": SYNC_WRITER_LOCK & 0xFFFFFFFF})
            below, age = cursor.fetchone()
            return Horizon(below, age)
        cursor.execute("SELECT COALESCE(MAX(value), 0) + 1 FROM sync_synccounter WHERE name = 'change'")
        return Horizon(cursor.fetchone()[0])


def held_back(team_ids, below):
    """Whether committed changes of these teams wait at or above the horizon (a sync write still open)."""
    if not team_ids or not is_postgres():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM sync_change WHERE team_id = ANY(%s) AND txid >= %s::text::xid8)",
            [list(team_ids), str(below)],
        )
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
