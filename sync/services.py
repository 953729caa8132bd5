"""People acting on what the engine kept: resolving conflicts, replaying or dismissing quarantined mutations."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from backend.errors import DomainError, StateConflict
from records.access import access_locked, get_for_write, in_readable_teams, require_reviewer
from records.changes import is_postgres
from records.models import Change, Conflict, RecordVersion
from records.registry import get_spec, ordered_specs
from records.writes import WriteContext, record_delete, record_update
from responders import selectors
from sync.models import Mutation, SyncHorizon, WatermelonCheckpoint

from .push import process_mutation


def conflict_resolve(
    *, conflict_id: Any, actor: Any, resolution: str, value: Any = None, request: Any = None
) -> Conflict:
    """A supervisor decides a conflict. Taking the incoming or a new value is a new record version, so it syncs."""
    with transaction.atomic():
        conflicts = in_readable_teams(Conflict.objects.select_for_update(), actor)
        conflict: Conflict = access_locked(conflicts, conflict_id, missing="No such conflict.")
        require_reviewer(actor, conflict.team_id, "Only a supervisor of this team can resolve its conflicts.")
        if conflict.status == Conflict.Status.RESOLVED:
            raise StateConflict("already_resolved", "This conflict was already resolved.")
        spec = get_spec(conflict.record_type)
        ctx = WriteContext(actor=actor, device=getattr(actor, "current_device", None), request=request)
        chosen = None
        if resolution == Conflict.Resolution.TAKE_INCOMING:
            chosen = conflict.incoming_value
        elif resolution == Conflict.Resolution.CUSTOM:
            chosen = value
        elif resolution != Conflict.Resolution.KEEP_SERVER:
            raise DomainError("invalid_resolution", "Resolution is keep_server, take_incoming or custom.")
        instance = get_for_write(spec, actor, conflict.record_id)
        version = instance.version
        if resolution != Conflict.Resolution.KEEP_SERVER:
            if conflict.field == "_deleted":
                result = record_delete(spec=spec, ctx=ctx, instance=instance) if chosen else None
            else:
                result = record_update(spec=spec, ctx=ctx, instance=instance, data={conflict.field: chosen})
            version = result.version if result else instance.version
        conflict.status = Conflict.Status.RESOLVED
        conflict.resolution = resolution
        conflict.resolved_value = chosen if resolution != Conflict.Resolution.KEEP_SERVER else conflict.server_value
        conflict.resolved_by = actor
        conflict.resolved_at = timezone.now()
        conflict.save()
        audit_record(
            action=AuditEvent.Action.CONFLICT_RESOLVED,
            actor=actor,
            device=ctx.device,
            program=conflict.program,
            object_type="conflict",
            object_id=conflict.pk,
            request=request,
            resolution=resolution,
            record=str(conflict.record_id),
            field=conflict.field,
            version=version,
        )
    # The record's version once resolved (a new one if the value changed), for the answer only: not a column.
    conflict.record_version = version  # type: ignore[attr-defined]
    return conflict


def quarantine_queryset(user: Any) -> QuerySet[Mutation]:
    """Rejected or waiting mutations the user may see: their own, and their teams' for supervisors."""
    review = selectors.reviewable_team_ids(user)
    return (
        Mutation.objects.filter(
            status__in=[Mutation.Status.REJECTED, Mutation.Status.PENDING],
            replayed_as__isnull=True,
            dismissed_at__isnull=True,
        )
        .filter(Q(user=user) | Q(team_id__in=review))
        .order_by("received_at", "id")
    )


def mutation_replay(
    *, mutation_id: Any, actor: Any, fields: Any = None, base_version: int | None = None, request: Any = None
) -> dict[str, Any]:
    """Apply a corrected copy of a rejected mutation. The original stays, linked to its replay.

    The replay is applied on the original author's behalf: the author stays the author (of the mutation, the
    record and its version), within the author's own scope; `replayed_by` and the audit trail name the person
    who corrected and resent it.
    """
    with transaction.atomic():
        quarantine = quarantine_queryset(actor).select_for_update(of=("self",)).select_related("user")
        original = access_locked(quarantine, mutation_id, missing="No such quarantined mutation.")
        if original.status != Mutation.Status.REJECTED:
            raise StateConflict("not_rejected", "Only rejected mutations can be replayed.")
        author = original.user
        payload = dict(original.payload)
        if fields is not None:
            payload["fields"] = fields
        if base_version is not None:
            payload["base_version"] = base_version
        replay = Mutation.objects.create(
            id=uuid.uuid4(),
            device=original.device,
            user=author,
            replayed_by=actor,
            seq=None,
            record_type=original.record_type,
            record_id=original.record_id,
            op=original.op,
            base_version=payload.get("base_version"),
            payload=payload,
            status=Mutation.Status.PENDING,
            protocol=original.protocol,
            app_version=original.app_version,
        )
        result: dict[str, Any] = process_mutation(author, original.device, original.app_version, replay, request)
        original.replayed_as = replay
        original.save(update_fields=["replayed_as"])
        audit_record(
            action=AuditEvent.Action.MUTATION_REPLAYED,
            actor=actor,
            program=replay.program if replay.program_id else original.program,
            object_type="mutation",
            object_id=original.pk,
            request=request,
            replay=str(replay.pk),
            on_behalf_of=author.pk,
            corrected_fields=sorted(fields) if isinstance(fields, dict) else [],
            status=result["status"],
        )
    return result


def mutation_dismiss(*, mutation_id: Any, actor: Any, request: Any = None) -> Mutation:
    """A supervisor closes a quarantined mutation that should not be applied (kept, never deleted)."""
    with transaction.atomic():
        quarantine = quarantine_queryset(actor).select_for_update(of=("self",))
        mutation: Mutation = access_locked(quarantine, mutation_id, missing="No such quarantined mutation.")
        message = "Only a supervisor of this team can dismiss its quarantined mutations."
        require_reviewer(actor, mutation.team_id, message)
        mutation.dismissed_at = timezone.now()
        mutation.dismissed_by = actor
        mutation.save(update_fields=["dismissed_at", "dismissed_by"])
        audit_record(
            action=AuditEvent.Action.MUTATION_REPLAYED,
            actor=actor,
            object_type="mutation",
            object_id=mutation.pk,
            request=request,
            dismissed=True,
        )
    return mutation


def tombstones_purge(*, older_than: datetime | None = None) -> int:
    """Forget deleted records and removal markers older than the retention period.

    Afterwards a cursor from before the newest purged change could miss a
    delete, so pulls with such a cursor get 410 cursor_expired and resync
    from scratch instead of resurrecting deleted rows.
    """
    cutoff = older_than or timezone.now() - timedelta(days=settings.SYNC_TOMBSTONE_RETENTION_DAYS)
    purged = 0
    # A WatermelonDB device this far behind resets anyway (its cursor is past the horizon).
    WatermelonCheckpoint.objects.filter(created_at__lt=cutoff).delete()
    with transaction.atomic():
        horizon, _ = SyncHorizon.objects.select_for_update().get_or_create(pk=1)
        stale = Change.objects.filter(op__in=[Change.Op.DELETE, Change.Op.REMOVE], changed_at__lt=cutoff)
        if is_postgres():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT MAX(txid::text::bigint) FROM sync_change WHERE op IN ('delete', 'remove') "
                    "AND changed_at < %s",
                    [cutoff],
                )
                top = cursor.fetchone()[0]
        else:
            top = stale.aggregate(top=Max("txid"))["top"]
        if top is None:
            return 0
        for spec in ordered_specs():
            gone = list(spec.model._base_manager.filter(deleted_at__lt=cutoff).values_list("pk", flat=True))
            if gone:
                RecordVersion.objects.filter(record_id__in=gone).delete()
                spec.model._base_manager.filter(pk__in=gone).delete()
                purged += len(gone)
        stale.delete()
        horizon.purged_below_txid = max(horizon.purged_below_txid, top + 1)
        horizon.purged_at = timezone.now()
        horizon.save()
    return purged
