"""WatermelonDB's sync protocol on top of the engine (see docs/watermelondb.md).

An adapter, not a second engine: a WatermelonDB pull runs the engine's pull and reshapes its changes into
`{table: {created, updated, deleted}}`, in bounded answers; a WatermelonDB push becomes engine mutations, applied
by the engine's push with its scope checks, merge rules, conflicts, quarantine and audit.

What WatermelonDB lacks and the adapter supplies:
- `lastPulledAt` must be a positive number: it is the id of a WatermelonCheckpoint holding the engine's
  signed cursor for that device.
- Pushed rows carry no base version: the adapter keeps, per device and record, what the device last got
  (WatermelonShadow) and gives the engine that as the merge base. WatermelonDB's own rule (reject the whole
  push when a record changed after lastPulledAt) is replaced by the engine's field-level merge.
- No sequence numbers or mutation ids: the engine assigns the device's next sequence numbers.

mapping.py: the schema and the column encodings; pull.py: pullChanges; push.py: pushChanges.
"""

from .mapping import SCHEMA_VERSION, ColumnError, columns, decode, encode, schema, specs_by_table, table_name
from .pull import RESET_MESSAGE, page_size, parse_last_pulled_at, parse_migration, pull
from .push import push

__all__ = [
    "RESET_MESSAGE",
    "SCHEMA_VERSION",
    "ColumnError",
    "columns",
    "decode",
    "encode",
    "page_size",
    "parse_last_pulled_at",
    "parse_migration",
    "pull",
    "push",
    "schema",
    "specs_by_table",
    "table_name",
]
