"""A device's own earlier edits of a record, read from the mutation log: part of a sync mutation's merge base.

The record core asks for them through records.writes.own_edits_source (set in sync/apps.py); see
docs/sync-protocol.md, "The merge base", and docs/dev/decisions/causal-merge-base.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sync.models import Mutation

if TYPE_CHECKING:
    from records.writes import WriteContext

# Outcomes of a device's own update that it laid on its copy of the record (a rejected one it did not keep).
OWN_EDIT_STATUSES = ("applied", "unchanged", "merged", "conflict")


def own_edit(m: Mapping[str, Any]) -> tuple[int | None, dict[str, Any], int]:
    """(seq, fields as sent, version answered) of a stored mutation read with values("seq", "payload", "result")."""
    return m["seq"], (m["payload"] or {}).get("fields") or {}, (m["result"] or {}).get("version") or 0


def stored_own_edits(device: Any, record_ids: list[Any]) -> dict[Any, list[tuple[int | None, dict[str, Any], int]]]:
    """device_own_edits' stored part for many records in one query: {record id: rows} (every id present)."""
    found: dict[Any, list[tuple[int | None, dict[str, Any], int]]] = {record_id: [] for record_id in record_ids}
    rows = Mutation.objects.filter(
        device=device, record_id__in=record_ids, op="update", status__in=OWN_EDIT_STATUSES
    ).values("record_id", "seq", "payload", "result")
    for m in rows:
        found[m["record_id"]].append(own_edit(m))
    return found


def device_own_edits(ctx: WriteContext, record_id: UUID) -> list[tuple[int | None, dict[str, Any], int]]:
    """[(seq, fields, version answered)] of the device's own taken updates of the record, this push's included."""
    ahead = ctx.deferred.ahead if ctx.deferred is not None else None
    if ahead is not None and record_id in ahead.own_edits:
        rows = list(ahead.own_edits[record_id])
    else:
        rows = [
            own_edit(m)
            for m in Mutation.objects.filter(
                device=ctx.device, record_id=record_id, op="update", status__in=OWN_EDIT_STATUSES
            ).values("seq", "payload", "result")
        ]
    if ctx.deferred is not None:
        rows += [
            (m.seq, (m.payload or {}).get("fields") or {}, (m.result or {}).get("version") or 0)
            for m in ctx.deferred.mutations
            if m.record_id == record_id and m.op == "update" and m.status in OWN_EDIT_STATUSES
        ]
    return rows
