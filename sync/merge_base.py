"""A device's own earlier edits of a record, read from the mutation log: part of a sync mutation's merge base.

The record core asks for them through records.writes.own_edits_source (set in sync/apps.py); see
docs/sync-protocol.md, "The merge base", and docs/dev/decisions/causal-merge-base.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from sync.models import Mutation

if TYPE_CHECKING:
    from records.writes import WriteContext

# Outcomes of a device's own update that it laid on its copy of the record (a rejected one it did not keep).
OWN_EDIT_STATUSES = ("applied", "unchanged", "merged", "conflict")


def device_own_edits(ctx: WriteContext, record_id: UUID) -> list[tuple[int | None, dict[str, Any], int]]:
    """[(seq, fields, version answered)] of the device's own taken updates of the record, this push's included."""
    rows = [
        (m["seq"], (m["payload"] or {}).get("fields") or {}, (m["result"] or {}).get("version") or 0)
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
