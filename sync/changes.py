"""The change index as pull reads it: where each record stands in the pull order, per team bucket.

Rows are written with each record write (records/changes.py); this module reads them.

PostgreSQL: position = (P, id). A transaction that writes change rows first takes a shared, transaction-level
advisory lock (SYNC_WRITER_LOCK), and stamps its rows with P = the larger of its own transaction id and the
xmax of a snapshot taken after the lock is held (xid8s). A snapshot's xmax is one past the newest *finished*
transaction: later snapshots never have a smaller one, but a transaction still running can have an id at or
above it. A pull reads only rows below its horizon H = the smaller of its own snapshot xmax and the
transaction ids of the transactions holding that lock now. So:
  - a writer holding the lock when the pull looks has H at most its transaction id, which is at most P: its
    rows, committed later, sort at or above H;
  - a writer that takes the lock after the pull looked stamps P at least the pull's xmax (its snapshot is
    later), so at least H;
  - a writer that released the lock has committed (or rolled back) before the pull reads its rows.
(P was once the snapshot xmax alone: with an older transaction still running, that is below the writer's own
id, so a pull while the writer was open could pass P. tests/sync/test_invariants.py holds that case.)
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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from records.changes import SYNC_WRITER_LOCK, is_postgres

MAX_ID = 2**63 - 1
logger = logging.getLogger("sync.horizon")


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


def stable_horizon() -> int:
    """The position below which every change is final: (txid, id) pairs with txid < this are all visible."""
    return horizon().below


def horizon() -> Horizon:
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute("SELECT pg_current_xact_id()")  # moves xmax past every P already read (see above)
            cursor.execute(_HORIZON_SQL, {"hi": SYNC_WRITER_LOCK >> 32, "lo": SYNC_WRITER_LOCK & 0xFFFFFFFF})
            below, age = cursor.fetchone()
            return Horizon(below, age)
        cursor.execute("SELECT COALESCE(MAX(value), 0) + 1 FROM sync_synccounter WHERE name = 'change'")
        return Horizon(cursor.fetchone()[0])


def held_back(team_ids: Collection[int], below: int) -> bool:
    """Whether committed changes of these teams wait at or above the horizon (a sync write still open)."""
    if not team_ids or not is_postgres():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM sync_change WHERE team_id = ANY(%s) AND txid >= %s::text::xid8)",
            [list(team_ids), str(below)],
        )
        return bool(cursor.fetchone()[0])


def read_changes(
    team_ids: Collection[int], after: Sequence[int], limit: int, below: int
) -> list[tuple[Any, ...]]:
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
        return list(cursor.fetchall())
