"""Reads done ahead for a push's updates and deletes: the records locked in one statement per type, and the
history their merge bases read, instead of four queries per mutation.

A push applies its mutations one by one, each in a savepoint. An update or a delete used to lock its record
(get_for_write), read its base version's snapshot, the versions written since and the device's own earlier
edits, each a query. Before the first mutation the push now locks every record its updates and deletes name
(the same scope rule as get_for_write, in id order, so two pushes lock in the same order) and reads that
history for all of them.

What stays true while the push holds those locks, and so may be read ahead:
- a record's row, until a mutation of this push changes it: each locked instance serves only the first
  mutation that asks for it (`take`); a later one reads the record again, as before;
- a record's stored versions: only a writer holding the record's lock adds one, and this push's own are kept
  in DeferredWrites until it ends (read from there first, as before);
- the device's own earlier mutations of the record (the caller drops the read-ahead if it changes a stored
  mutation during the push: a drain of mutations that were waiting for a gap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import RecordVersion


@dataclass
class ReadAhead:
    # (type name, record id) -> the instance, locked and in the writer's scope, as get_for_write returns it.
    records: dict[tuple[str, Any], Any] = field(default_factory=dict)
    # (record id, version) -> the stored version row, or None when there is none: the start versions of the
    # mutations' merge bases.
    versions: dict[tuple[Any, int], RecordVersion | None] = field(default_factory=dict)
    # record id -> (the lowest version after which `later` is complete, the stored versions after it as
    # {version, device_id, mutation_id, changed_fields, author_id}).
    later: dict[Any, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)
    # record id -> the device's own taken updates of it stored before the push: [(seq, fields, version)].
    own_edits: dict[Any, list[tuple[Any, dict[str, Any], int]]] = field(default_factory=dict)

    def take(self, type_name: str, record_id: Any) -> Any:
        """The locked instance for the first mutation of this push that asks for it; None afterwards."""
        return self.records.pop((type_name, record_id), None)

    def has_version(self, record_id: Any, version: int) -> bool:
        """Whether this version of the record was read ahead (`versions` then holds it, or None: no such row)."""
        return (record_id, version) in self.versions

    def versions_after(self, record_id: Any, version: int) -> list[dict[str, Any]] | None:
        """The stored versions after `version`, or None when they were not all read ahead."""
        entry = self.later.get(record_id)
        if entry is None or version < entry[0]:
            return None
        return [row for row in entry[1] if row["version"] > version]


def read_versions(ahead: ReadAhead, starts: dict[Any, set[int]]) -> None:
    """Read the history of the records in `starts` ({record id: the start versions of its mutations}): those
    version rows and every version from the lowest start on, in two queries."""
    if not starts:
        return
    lowest = min(min(s) for s in starts.values())
    rows = RecordVersion.objects.filter(record_id__in=list(starts), version__gte=lowest).values(
        "record_id", "version", "device_id", "mutation_id", "changed_fields", "author_id"
    )
    by_record: dict[Any, list[dict[str, Any]]] = {record_id: [] for record_id in starts}
    for row in rows.order_by("record_id", "version"):
        values = dict(row)
        by_record[values.pop("record_id")].append(values)
    for record_id, later in by_record.items():
        ahead.later[record_id] = (lowest, later)
    wanted = {(record_id, start) for record_id, of_record in starts.items() for start in of_record}
    ahead.versions.update(dict.fromkeys(wanted))
    for version_row in RecordVersion.objects.filter(record_id__in=list(starts), version__in={s for _, s in wanted}):
        if (version_row.record_id, version_row.version) in wanted:
            ahead.versions[(version_row.record_id, version_row.version)] = version_row
