"""Generic writes of synced records: create, update with field-level merge, delete, move to another team.

The REST API, the sync engine, review and the demo data all call these, so every write is validated,
versioned, indexed for pull and audited the same way (docs/dev/write-flow.md follows one write through).
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_event
from backend.errors import DomainError, Forbidden, StateConflict
from responders import selectors
from responders.models import Device, Role, Team, User

from . import merge
from .access import check_references, check_restricted, resolve_team, scoped_queryset
from .bulk import insert_many
from .changes import ChangeRow, record_change_rows, write_changes
from .models import Amendment, Change, Conflict, RecordVersion
from .read_ahead import ReadAhead
from .registry import Policy, RecordSpec, ordered_specs
from .wire import SERVER_SET, canonical, parse_fields, snapshot

TEAM_MOVE_ROLES = {Role.SUPERVISOR, Role.PROGRAM_ADMIN}


@dataclass
class WriteContext:
    """Who writes, from where, and on behalf of which mutation."""

    actor: User
    device: Device | None = None
    mutation: Any = None  # a sync.Mutation: the record core keeps only its id
    app_version: str = ""
    form_version: str = ""
    device_time: datetime | None = None
    request: HttpRequest | None = None
    audit: bool = True
    # Set only by a supervisor accepting an amendment: the one write allowed on a locked record.
    allow_locked: bool = False
    # A sync push: history, change-index rows and audit events written in bulk when the push ends.
    deferred: "DeferredWrites | None" = None
    # A merge base given as field values rather than a version (the WatermelonDB adapter's).
    base_data: dict[str, Any] | None = None
    # A device's sync mutation: merged against what that device knew (its base version plus its own later
    # edits; no base version means its own create, version 1). Otherwise a write without a base version is a
    # person editing the current version (the REST API, a supervisor's resolution).
    causal: bool = False


@dataclass
class DeferredWrites:
    """Side rows of many writes, written in a few statements when the caller flushes, in the same transaction.

    A sync push writes a version snapshot, a change-index row and an audit event for each mutation; issuing
    them one by one was most of a push's round trips. A mutation rolled back to its savepoint drops what it
    added (mark / rollback_to). Versions not yet written are read from here, so a later mutation of the same
    push merges against an earlier one's snapshot. `known_absent`: ids of records to be created that did not
    exist when the push began (one query for the batch instead of one per create).
    """

    versions: list[RecordVersion] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    # Conflicts the push's merges opened (their ids are in the answers already; nothing reads them before commit).
    conflicts: list[Conflict] = field(default_factory=list)
    known_absent: set[Any] = field(default_factory=set)
    # Mutation rows this push has settled and not yet written: a later mutation's merge base reads its device's
    # own earlier edits from them.
    mutations: list[Any] = field(default_factory=list)
    # What the push read ahead for its updates and deletes (records/read_ahead.py), or None.
    ahead: ReadAhead | None = None

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.versions), len(self.changes), len(self.events), len(self.conflicts)

    def rollback_to(self, mark: tuple[int, int, int, int]) -> None:
        del self.versions[mark[0] :]
        del self.changes[mark[1] :]
        del self.events[mark[2] :]
        del self.conflicts[mark[3] :]

    def pending_version(self, record_id: Any, version: int) -> RecordVersion | None:
        return next((v for v in self.versions if v.record_id == record_id and v.version == version), None)

    def pending_versions_after(self, record_id: Any, version: int) -> list[RecordVersion]:
        return [v for v in self.versions if v.record_id == record_id and v.version > version]

    def flush(self) -> None:
        insert_many(RecordVersion, self.versions)
        write_changes(self.changes)
        insert_many(AuditEvent, self.events)
        insert_many(Conflict, self.conflicts)
        self.versions, self.changes, self.events, self.conflicts = [], [], [], []


@dataclass
class WriteResult:
    status: str  # applied | unchanged | merged | conflict | amendment
    instance: object
    version: int
    merged_fields: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    amendment: object = None


def _stamp(instance: Any, ctx: WriteContext, now: datetime) -> None:
    instance.updated_by = ctx.actor
    instance.server_updated_at = now
    if ctx.app_version:
        instance.app_version = ctx.app_version[:40]
    if ctx.form_version:
        instance.form_version = ctx.form_version[:40]
    if ctx.device_time:
        instance.device_updated_at = ctx.device_time


def _record_version(spec: RecordSpec, instance: Any, ctx: WriteContext, changed: Iterable[str], now: datetime) -> None:
    row = RecordVersion(
        record_type=spec.name,
        record_id=instance.pk,
        version=instance.version,
        data=snapshot(spec, instance),
        changed_fields=sorted(changed),
        author=ctx.actor,
        device=ctx.device,
        mutation_id=ctx.mutation.pk if ctx.mutation is not None else None,
        at=now,
    )
    if ctx.deferred is not None:
        ctx.deferred.versions.append(row)
    else:
        row.save(force_insert=True)


def _write_changes(ctx: WriteContext, rows: list[ChangeRow]) -> None:
    if ctx.deferred is not None:
        ctx.deferred.changes.extend(rows)
    else:
        write_changes(rows)


def _audit(spec: RecordSpec, instance: Any, ctx: WriteContext, action: str, **detail: Any) -> None:
    if not ctx.audit:
        return
    event = audit_event(
        action=action,
        actor=ctx.actor,
        device=ctx.device,
        obj=instance,
        object_type=spec.name,
        request=ctx.request,
        version=instance.version,
        **detail,
    )
    if ctx.deferred is not None:
        ctx.deferred.events.append(event)
    else:
        event.save()


def _clean(spec: RecordSpec, instance: Any, validated: Iterable[str] = ()) -> None:
    """Model validation. `validated` names fields whose values the input serializer just checked with the same
    model validators (types, lengths, choices, JSON shapes): checking them twice doubled a create's CPU time.
    Cross-field rules (Model.clean) always run."""
    instance.full_clean(exclude=[*SERVER_SET, *spec.references, *validated], validate_unique=False)
    if instance._meta.constraints:
        # full_clean skips every constraint naming an excluded field: a DVP number unique per program (a field
        # the server sets) would reach the database as an IntegrityError. Validated with every field here.
        instance.validate_constraints()


def _is_locked(spec: RecordSpec, instance: Any) -> bool:
    shift = spec.lock_shift(instance)
    return shift is not None and shift.is_locked


def record_create(
    *, spec: RecordSpec, ctx: WriteContext, data: Any, record_id: Any = None, team_id: int | None = None
) -> WriteResult:
    """Create a record from client values. A record added to an approved shift log is flagged late."""
    values, team = _create_inputs(spec, ctx, data, team_id)
    now = timezone.now()
    # In a push the caller's per-mutation savepoint is the only one needed.
    with transaction.atomic(savepoint=ctx.deferred is None):
        instance = _new_record(spec, ctx, values, team, record_id, now)
        instance.save(force_insert=True)
        _created(spec, ctx, instance, values, now)
    return WriteResult("applied", instance, instance.version)


def prepare_create(
    *, spec: RecordSpec, ctx: WriteContext, data: Any, record_id: Any, team_id: int | None = None
) -> WriteResult:
    """Everything record_create does except the INSERT: for a push inserting a run of creates in one statement.

    The same validation and the same errors; the version snapshot, change row and audit event go to
    ctx.deferred (required). The caller inserts the returned result's instance, and if that fails it undoes
    what the run added to ctx.deferred and applies the run's mutations one by one instead.
    """
    values, team = _create_inputs(spec, ctx, data, team_id)
    now = timezone.now()
    instance = _new_record(spec, ctx, values, team, record_id, now)
    _created(spec, ctx, instance, values, now)
    return WriteResult("applied", instance, instance.version)


def _create_inputs(spec: RecordSpec, ctx: WriteContext, data: Any, team_id: int | None) -> tuple[dict[str, Any], Team]:
    values = parse_fields(spec, data, partial=False)
    team = resolve_team(spec, ctx.actor, team_id)
    check_restricted(spec, ctx.actor, team.program_id, values)
    check_references(spec, ctx.actor, values, team.pk, team.program_id)
    return values, team


def _new_record(
    spec: RecordSpec, ctx: WriteContext, values: dict[str, Any], team: Team, record_id: Any, now: datetime
) -> Any:
    """The validated, unsaved record."""
    if record_id is not None and not _known_absent(ctx, record_id):
        error = id_taken_error(spec, ctx.actor, record_id)
        if error is not None:
            raise error
    instance = spec.model(
        program=team.program,
        team=team,
        created_by=ctx.actor,
        created_on_device=ctx.device,
        server_received_at=now,
        device_created_at=ctx.device_time,
    )
    if record_id is not None:
        instance.pk = record_id
    for name, value in values.items():
        setattr(instance, name, value)
    _stamp(instance, ctx, now)
    instance.is_late = _is_locked(spec, instance)
    _clean(spec, instance, validated=values)
    return instance


def _created(spec: RecordSpec, ctx: WriteContext, instance: Any, values: dict[str, Any], now: datetime) -> None:
    """A new record's history, change row and audit event."""
    _record_version(spec, instance, ctx, values.keys(), now)
    _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT))
    _audit(spec, instance, ctx, AuditEvent.Action.RECORD_CREATE, late=instance.is_late)


def _known_absent(ctx: WriteContext, record_id: Any) -> bool:
    """True once for an id the push found absent when it began; a second create of it queries again."""
    if ctx.deferred is None or record_id not in ctx.deferred.known_absent:
        return False
    ctx.deferred.known_absent.discard(record_id)
    return True


def record_exists(spec: RecordSpec, record_id: Any) -> bool:
    """Whether any record, of any type, has this id (ids are unique across types: history and the change
    index are keyed on the id alone)."""
    return bool(taken_ids([record_id]))


def taken_ids(ids: Iterable[Any]) -> set[Any]:
    """The ids among `ids` that a record of any type already has (deleted ones included), in one query."""
    ids = list(ids)
    if not ids:
        return set()
    if connection.vendor == "postgresql" and all(isinstance(i, uuid.UUID) for i in ids):
        # One array parameter, not one placeholder per id in each of the six tables: a 500-create push asked
        # this with 3,000 placeholders, whose compiling and quoting cost more than the query.
        quote = connection.ops.quote_name
        union = " UNION ALL ".join(
            f"SELECT {quote(spec.model._meta.pk.column)} FROM {quote(spec.model._meta.db_table)}"  # noqa: S608
            f" WHERE {quote(spec.model._meta.pk.column)} = ANY(%(ids)s::uuid[])"  # table names from the models
            for spec in ordered_specs()
        )
        with connection.cursor() as cursor:
            cursor.execute(union, {"ids": ids})
            return {row[0] for row in cursor.fetchall()}
    queries = [
        spec.model._base_manager.filter(pk__in=ids).order_by().values_list("pk", flat=True) for spec in ordered_specs()
    ]
    return set(queries[0].union(*queries[1:], all=True))


def id_taken_error(spec: RecordSpec, user: Any, record_id: Any) -> StateConflict | None:
    """The answer to a create whose id is taken, or None when it is free.

    `record_exists` when the caller can read that record (the same type, in their scope: a create sent twice).
    Otherwise `id_unavailable`, the same answer whatever type, team or program holds the id, so nothing about
    a record outside the caller's scope is told.
    """
    if not taken_ids([record_id]):
        return None
    if scoped_queryset(spec, user, include_deleted=True).filter(pk=record_id).exists():
        return StateConflict("record_exists", f"A {spec.name} with this id already exists.")
    return StateConflict("id_unavailable", "This id cannot be used; generate a new one.")


def _version_row(ctx: WriteContext, record_id: Any, version: int) -> RecordVersion | None:
    pending = ctx.deferred.pending_version(record_id, version) if ctx.deferred is not None else None
    if pending is not None:
        return pending
    ahead = ctx.deferred.ahead if ctx.deferred is not None else None
    if ahead is not None and ahead.has_version(record_id, version):
        return ahead.versions[(record_id, version)]
    return RecordVersion.objects.filter(record_id=record_id, version=version).first()


@dataclass
class _Later:
    """A version written after a mutation's base: who wrote it, and on behalf of which mutation."""

    version: int
    device_id: object
    mutation_id: object
    changed_fields: list[str]
    author_id: int


def _versions_after(ctx: WriteContext, record_id: Any, version: int) -> list[_Later]:
    """The versions of a record after `version`, oldest first: those already written and those of this push."""
    ahead = ctx.deferred.ahead if ctx.deferred is not None else None
    stored = ahead.versions_after(record_id, version) if ahead is not None else None
    if stored is None:
        stored = [
            dict(row)
            for row in RecordVersion.objects.filter(record_id=record_id, version__gt=version).values(
                "version", "device_id", "mutation_id", "changed_fields", "author_id"
            )
        ]
    later = {row["version"]: _Later(**row) for row in stored}
    if ctx.deferred is not None:
        for row in ctx.deferred.pending_versions_after(record_id, version):
            later[row.version] = _Later(row.version, row.device_id, row.mutation_id, row.changed_fields, row.author_id)
    return [later[v] for v in sorted(later)]


def _is_own(ctx: WriteContext, later: _Later) -> bool:
    """Written by this device's own sync mutation (not a person at a desk, not another device)."""
    return ctx.device is not None and later.mutation_id is not None and later.device_id == ctx.device.pk


def _start_version(instance: Any, base_version: int | None, ctx: WriteContext) -> int | None:
    """The version a mutation's merge base starts from, or None when it was made on the current version."""
    if base_version is not None:
        if base_version > instance.version or base_version < 1:
            raise DomainError("invalid_base_version", "The base version is not one the server issued.")
        return base_version
    # No base version: a sync mutation of a record the device has not had acknowledged starts from the record's
    # first version (its own create) with its own edits since; a person at a desk edits the current version.
    return 1 if ctx.causal else None


def _no_own_edits(ctx: WriteContext, record_id: Any) -> list[tuple[int | None, Any, int]]:
    return []


# Where a device's own earlier edits of a record come from: [(seq, fields as sent, version answered)]. The sync
# engine keeps them (its mutation log) and sets this when it loads (sync/apps.py); the record core does not
# read the protocol's tables itself.
own_edits_source: Callable[[WriteContext, Any], list[tuple[int | None, Any, int]]] = _no_own_edits


def _own_edits_since(spec: RecordSpec, ctx: WriteContext, record_id: Any, start: int) -> list[dict[str, Any]]:
    """The values this device sent in its own updates of the record that were taken in after version `start`
    (each answered with a later version), in the order they were taken in. A rejected one is not on the
    device's copy; one answered with `start` or earlier is in that version already, as merged."""
    if ctx.device is None:
        return []
    rows = own_edits_source(ctx, record_id)
    edits = []
    for _seq, fields, _version in sorted((r for r in rows if r[2] > start), key=lambda r: (r[2], r[0] or 0)):
        try:
            values = parse_fields(spec, fields, partial=True)
        except ValidationError:
            continue  # valid when applied; a reference purged since cannot change what the device held then
        edits.append({name: canonical(spec, name, value) for name, value in values.items()})
    return edits


@dataclass
class _Base:
    """A mutation's effective merge base and the versions written since its start version."""

    values: dict[str, Any] | None  # None: the current version (nothing to merge)
    later: list[_Later] = field(default_factory=list)  # versions after the start version, oldest first


def _merge_base(spec: RecordSpec, instance: Any, base_version: int | None, ctx: WriteContext) -> _Base:
    """What the writer knew of the record: docs/sync-protocol.md, "The merge base"."""
    if ctx.base_data is not None:
        return _Base(ctx.base_data)
    start = _start_version(instance, base_version, ctx)
    if start is None or start == instance.version:
        return _Base(None)
    row = _version_row(ctx, instance.pk, start)
    own = _own_edits_since(spec, ctx, instance.pk, start)
    return _Base(merge.effective_base(row.data if row else {}, own), _versions_after(ctx, instance.pk, start))


def _kept_value_author(ctx: WriteContext, instance: Any, base: _Base, name: str) -> int | None:
    """Who set the value a conflict keeps: the author of the newest version that changed the field."""
    later = base.later or _versions_after(ctx, instance.pk, 0)
    for v in reversed(later):
        if name in (v.changed_fields or []):
            return v.author_id
    creator: int | None = instance.created_by_id
    return creator


def record_update(
    *, spec: RecordSpec, ctx: WriteContext, instance: Any, data: Any, base_version: int | None = None
) -> WriteResult:
    """Apply the fields a client changed, merged against what changed since the writer's base (records/merge.py).

    `instance` must come from get_for_write (locked, in scope). Edits to a
    record on an approved shift log become an amendment request instead.
    """
    values = parse_fields(spec, data, partial=True)
    if instance.deleted_at is not None:
        raise StateConflict("record_deleted", f"This {spec.name} was deleted.")
    check_restricted(spec, ctx.actor, instance.program_id, values)
    check_references(spec, ctx.actor, values, instance.team_id, instance.program_id)
    if "team" in data:
        raise ValidationError({"team": [ValidationError("Use the move operation to change teams.", code="read_only")]})
    if _is_locked(spec, instance) and not ctx.allow_locked:
        return _request_amendment(spec, ctx, instance, Change.Op.UPSERT, data, base_version)

    now = timezone.now()
    incoming = {name: canonical(spec, name, value) for name, value in values.items()}
    base = _merge_base(spec, instance, base_version, ctx)
    outcome = merge.merge_record(spec.policies, spec.transitions, base.values, snapshot(spec, instance), incoming)
    conflicts = _conflict_rows(spec, ctx, instance, base, base_version, outcome.conflicts, now)
    if outcome.values or conflicts or outcome.merged:
        # A conflict, or a merge that stored something other than what was sent, writes a version even when no
        # value changed: the device's next base then says whether its copy came before or after it (see
        # _own_edits_since), and its next pull brings what the server kept, whatever it last pulled.
        for name, value in outcome.values.items():
            # A value stored as sent keeps its parsed form (a related row, a date); a merged one is JSON already.
            setattr(instance, name, values[name] if value == incoming[name] else value)
        _stamp(instance, ctx, now)
        instance.version += 1
        if ctx.allow_locked:
            instance.is_late = True
        _clean(spec, instance)
        instance.save()
        _record_version(spec, instance, ctx, outcome.values, now)
        _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT))
        if ctx.deferred is not None:
            ctx.deferred.conflicts.extend(conflicts)
        else:
            Conflict.objects.bulk_create(conflicts)
        _audit(
            spec,
            instance,
            ctx,
            AuditEvent.Action.RECORD_UPDATE,
            fields=sorted(outcome.values),
            conflicts=len(conflicts),
        )
    return WriteResult(outcome.status, instance, instance.version, merged_fields=outcome.merged, conflicts=conflicts)


def _conflict_rows(
    spec: RecordSpec,
    ctx: WriteContext,
    instance: Any,
    base: _Base,
    base_version: int | None,
    field_conflicts: list[merge.FieldConflict],
    now: datetime,
) -> list[Conflict]:
    """A Conflict for each field whose incoming value lost the merge (kept for a person to resolve)."""
    return [
        Conflict(
            record_type=spec.name,
            record_id=instance.pk,
            program_id=instance.program_id,
            team_id=instance.team_id,
            field=c.name,
            policy=c.policy,
            base_version=base_version,
            server_version=instance.version + 1,
            base_value=c.base,
            server_value=c.theirs,
            incoming_value=c.mine,
            server_author_id=_kept_value_author(ctx, instance, base, c.name),
            incoming_author=ctx.actor,
            mutation=ctx.mutation,
            created_at=now,
        )
        for c in field_conflicts
    ]


def record_delete(
    *, spec: RecordSpec, ctx: WriteContext, instance: Any, base_version: int | None = None
) -> WriteResult:
    """Delete as a tombstone. A delete made without seeing edits someone else wrote since its base does not erase
    them: it becomes a conflict for a person to decide. The device's own later edits are not someone else's."""
    if instance.deleted_at is not None:
        return WriteResult("unchanged", instance, instance.version)
    if _is_locked(spec, instance) and not ctx.allow_locked:
        return _request_amendment(spec, ctx, instance, Change.Op.DELETE, {}, base_version)
    now = timezone.now()
    start = _start_version(instance, base_version, ctx)
    others = []
    if start is not None and start != instance.version:
        others = [v for v in _versions_after(ctx, instance.pk, start) if not _is_own(ctx, v)]
    if others:
        # A version with the values as they stand, so the device's next pull brings back the record it deleted.
        _stamp(instance, ctx, now)
        instance.version += 1
        instance.save()
        _record_version(spec, instance, ctx, [], now)
        _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT))
        conflict = Conflict.objects.create(
            record_type=spec.name,
            record_id=instance.pk,
            program_id=instance.program_id,
            team_id=instance.team_id,
            field="_deleted",
            policy=Policy.SCALAR,
            base_version=base_version,
            server_version=instance.version,
            base_value=False,
            server_value=False,
            incoming_value=True,
            server_author_id=others[-1].author_id,
            incoming_author=ctx.actor,
            mutation=ctx.mutation,
            created_at=now,
        )
        return WriteResult("conflict", instance, instance.version, conflicts=[conflict])
    instance.deleted_at = now
    _stamp(instance, ctx, now)
    instance.version += 1
    instance.save()
    _record_version(spec, instance, ctx, ["_deleted"], now)
    _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.DELETE))
    _audit(spec, instance, ctx, AuditEvent.Action.RECORD_DELETE)
    return WriteResult("applied", instance, instance.version)


def record_move(*, spec: RecordSpec, ctx: WriteContext, instance: Any, team_id: int | None) -> WriteResult:
    """Reassign a record to another team of the same program (supervisors and program admins).

    Devices of the old team get a removal on their next pull.
    """
    role = selectors.role_in_program(ctx.actor, instance.program_id)
    if role not in TEAM_MOVE_ROLES:
        raise Forbidden("Only a supervisor or program admin can move records.")
    target = resolve_team(spec, ctx.actor, team_id)
    if target.program_id != instance.program_id:
        raise ValidationError({"team": [ValidationError("Records stay in their program.", code="wrong_program")]})
    if _is_locked(spec, instance):
        raise StateConflict("record_locked", "The record is on an approved shift log.")
    if target.pk == instance.team_id:
        return WriteResult("unchanged", instance, instance.version)
    now = timezone.now()
    old_team_id = instance.team_id
    instance.team = target
    _stamp(instance, ctx, now)
    instance.version += 1
    _clean(spec, instance)
    instance.save()
    _record_version(spec, instance, ctx, ["team"], now)
    _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT, old_team_id=old_team_id))
    _audit(spec, instance, ctx, AuditEvent.Action.RECORD_UPDATE, fields=["team"], from_team=old_team_id)
    return WriteResult("applied", instance, instance.version)


def record_set_server_state(
    *,
    spec: RecordSpec,
    ctx: WriteContext,
    instance: Any,
    values: dict[str, Any],
    changed: Iterable[str],
    now: datetime | None = None,
) -> WriteResult:
    """A change only the server makes (a shift log's review state): `values` set, a new version so devices learn
    it at their next pull, its history row (listing `changed`) and its change-index rows. No input parsing and
    no merge: the caller has checked the step, and audits it under its own action."""
    now = now or timezone.now()
    for name, value in values.items():
        setattr(instance, name, value)
    _stamp(instance, ctx, now)
    instance.version += 1
    instance.save()
    _record_version(spec, instance, ctx, changed, now)
    _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT))
    return WriteResult("applied", instance, instance.version)


def _request_amendment(
    spec: RecordSpec, ctx: WriteContext, instance: Any, op: str, data: Any, base_version: int | None
) -> WriteResult:
    shift = spec.lock_shift(instance)
    amendment = Amendment.objects.create(
        record_type=spec.name,
        record_id=instance.pk,
        op="delete" if op == Change.Op.DELETE else "update",
        program_id=instance.program_id,
        team_id=instance.team_id,
        shift=shift,
        mutation=ctx.mutation,
        requested_by=ctx.actor,
        base_version=base_version,
        changes=data,
    )
    return WriteResult("amendment", instance, instance.version, amendment=amendment)
