"""Generic writes of synced records: create, update with field-level merge, delete.

The REST API, the sync engine, the admin and the demo data all call these
(through the per-type services in incidents/services.py and
responders/services.py), so every write is validated, versioned, indexed for
pull and audited the same way.
"""

import json
import threading
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from rest_framework import serializers

from audit.models import AuditEvent
from audit.services import audit_event
from backend.errors import DomainError, NotFound
from responders import selectors
from responders.models import Role, Team

from . import merge
from .bulk import insert_many
from .changes import record_change_rows, write_changes
from .models import Amendment, Change, Conflict, RecordVersion
from .registry import Policy

TEAM_MOVE_ROLES = {Role.SUPERVISOR, Role.PROGRAM_ADMIN}


@dataclass
class WriteContext:
    """Who writes, from where, and on behalf of which mutation."""

    actor: object
    device: object = None
    mutation: object = None
    app_version: str = ""
    form_version: str = ""
    device_time: object = None
    request: object = None
    audit: bool = True
    # Set only by a supervisor accepting an amendment: the one write allowed on a locked record.
    allow_locked: bool = False
    # A sync push: history, change-index rows and audit events written in bulk when the push ends.
    deferred: "DeferredWrites | None" = None
    # A merge base given as field values rather than a version (the WatermelonDB adapter's).
    base_data: dict | None = None
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

    versions: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    events: list = field(default_factory=list)
    known_absent: set = field(default_factory=set)
    # Mutation rows this push has settled and not yet written: a later mutation's merge base reads its device's
    # own earlier edits from them.
    mutations: list = field(default_factory=list)

    def mark(self):
        return len(self.versions), len(self.changes), len(self.events)

    def rollback_to(self, mark):
        del self.versions[mark[0] :]
        del self.changes[mark[1] :]
        del self.events[mark[2] :]

    def pending_version(self, record_id, version):
        return next((v for v in self.versions if v.record_id == record_id and v.version == version), None)

    def pending_versions_after(self, record_id, version):
        return [v for v in self.versions if v.record_id == record_id and v.version > version]

    def flush(self):
        insert_many(RecordVersion, self.versions)
        write_changes(self.changes)
        insert_many(AuditEvent, self.events)
        self.versions, self.changes, self.events = [], [], []


@dataclass
class WriteResult:
    status: str  # applied | unchanged | merged | conflict | amendment
    instance: object
    version: int
    merged_fields: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    amendment: object = None


# --- wire form -------------------------------------------------------------


def canonical(spec, name, value):
    """The JSON form of a field value: what the wire carries and what merges compare."""
    if value is None:
        return None
    ser_field = _serializer_fields(spec)[name]
    if hasattr(value, "pk"):
        value = value.pk
        return str(value) if not isinstance(value, int) else value
    return json.loads(json.dumps(ser_field.to_representation(value), default=str))


# Representations json.loads(json.dumps(...)) returns unchanged: no round trip needed.
_JSON_SCALARS = frozenset({str, int, bool})


def snapshot(spec, instance, loaded=False):
    """The writable fields' JSON form (what the wire carries, what versions store and merges compare).

    Every value is a fresh JSON-native object, so a version snapshot taken now does not change with the
    instance. loaded=True: the instance was just read from the database and is only serialized afterwards
    (a pull): its JSON fields, which the database handed back as plain JSON values, are used as they are
    instead of being copied through json.dumps/json.loads (the same values, at a fraction of the cost).
    """
    data = {}
    for name, attname, is_relation, native_json, serializer_field in _snapshot_plan(spec):
        raw = getattr(instance, attname)
        if raw is None:
            data[name] = None
        elif is_relation:
            data[name] = raw if isinstance(raw, int) else str(raw)
        elif loaded and native_json:
            data[name] = raw
        else:
            value = serializer_field.to_representation(raw)
            data[name] = value if type(value) in _JSON_SCALARS else json.loads(json.dumps(value, default=str))
    return data


_SNAPSHOT_PLANS = {}


def _snapshot_plan(spec):
    """Per writable field, once per type: (name, attname, is a foreign key, JSON the database returns as plain
    JSON values (a JSONField without a custom decoder, whose serializer field passes it through), serializer
    field)."""
    plan = _SNAPSHOT_PLANS.get(spec.name)
    if plan is None:
        serializer_fields = _serializer_fields(spec)
        plan = []
        for name in spec.policies:
            f = spec.model._meta.get_field(name)
            ser_field = serializer_fields[name]
            native_json = (
                isinstance(f, models.JSONField)
                and f.decoder is None
                and type(ser_field) is serializers.JSONField
                and not ser_field.binary
            )
            plan.append((name, f.attname, f.is_relation, native_json, ser_field))
        plan = _SNAPSHOT_PLANS[spec.name] = tuple(plan)
    return plan


_SERIALIZER_FIELDS = {}


def _serializer_fields(spec):
    cached = _SERIALIZER_FIELDS.get(spec.name)
    if cached is None:
        cached = _SERIALIZER_FIELDS[spec.name] = spec.input_serializer().fields
    return cached


def to_wire(spec, instance, user, loaded=False):
    """One record as a client sees it: its writable fields plus server-owned facts; restricted fields hidden.

    loaded: the instance comes straight from a query and is only serialized afterwards (see snapshot)."""
    data = {
        "type": spec.name,
        "id": str(instance.pk),
        "version": instance.version,
        "program": instance.program.code if instance.program_id else None,
        "team": instance.team_id,
        "deleted": instance.deleted_at is not None,
    }
    data.update(snapshot(spec, instance, loaded=loaded))
    for name in spec.read_only:
        value = getattr(instance, name)
        data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    data.update(
        {
            "created_by": instance.created_by_id,
            "updated_by": instance.updated_by_id,
            "created_on_device": str(instance.created_on_device_id) if instance.created_on_device_id else None,
            "app_version": instance.app_version,
            "form_version": instance.form_version,
            "device_created_at": _iso(instance.device_created_at),
            "device_updated_at": _iso(instance.device_updated_at),
            "server_received_at": _iso(instance.server_received_at),
            "server_updated_at": _iso(instance.server_updated_at),
            "is_late": instance.is_late,
        }
    )
    if spec.restricted:
        from .redaction import hidden_fields

        for name in hidden_fields(spec.name, user, instance.program_id):
            data.pop(name, None)
    return data


def _iso(value):
    return value.isoformat() if value else None


# --- scope -----------------------------------------------------------------


def scoped_queryset(spec, user, include_deleted=False):
    """The records of this type the user may read now (deny by default)."""
    team_ids = selectors.readable_team_ids(user, program_codes=spec.programs)
    qs = spec.model._default_manager.filter(team_id__in=team_ids)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    return qs


def get_for_write(spec, user, record_id, lock=True):
    """The record to change, locked, or not_found when it does not exist *or* is outside the writer's scope."""
    qs = scoped_queryset(spec, user, include_deleted=True)
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.select_related("program", "team").get(pk=record_id)
    except (spec.model.DoesNotExist, ValueError, ValidationError):
        raise NotFound(f"No {spec.name} with that id.") from None


def _check_restricted(spec, user, program_id, names):
    role = selectors.role_in_program(user, program_id)
    denied = [n for n in names if n in spec.restricted and role not in spec.restricted[n]]
    if denied:
        raise DomainError(
            "field_restricted",
            "Your role may not set these fields.",
            status_code=403,
            fields={n: [{"code": "field_restricted", "message": "Not permitted for your role."}] for n in denied},
        )


def _missing(value):
    return ValidationError(f'Invalid pk "{value}" - object does not exist.', code="does_not_exist")


def _check_references(spec, user, values, team_id, program_id):
    """Every record or person a write names must be one the writer may see; otherwise the same answer as an id
    that does not exist (does_not_exist), so a reference never tells whether a record outside scope exists.
    Lists of record ids also stay within the record's team (wrong_team), as foreign keys do (Model.clean)."""
    from responders.models import Membership

    from .registry import get_spec

    errors = {}
    for name, target in spec.references.items():
        obj = values.get(name)
        if obj is None:
            continue
        target_spec = get_spec(target)
        if not scoped_queryset(target_spec, user).filter(pk=obj.pk).exists():
            errors[name] = [_missing(obj.pk)]
    for name, target in spec.id_lists.items():
        ids = values.get(name) or []
        if not ids:
            continue
        found = dict(scoped_queryset(get_spec(target), user).filter(pk__in=ids).values_list("pk", "team_id"))
        found = {str(pk).lower(): team for pk, team in found.items()}
        missing = [i for i in ids if str(i).lower() not in found]
        if missing:
            errors[name] = [_missing(missing[0])]
        elif any(found[str(i).lower()] != team_id for i in ids):
            errors[name] = [ValidationError(f"A {target} of another team.", code="wrong_team")]
    for name in spec.people:
        value = values.get(name)
        ids = [value.pk] if hasattr(value, "pk") else list(value or [])
        if not ids:
            continue
        members = set(
            Membership.objects.filter(
                user_id__in=ids, program_id=program_id, is_active=True, user__is_active=True
            ).values_list("user_id", flat=True)
        )
        missing = [i for i in ids if i not in members]
        if missing:
            errors[name] = [_missing(missing[0])]
    if errors:
        raise ValidationError(errors)


def parse_fields(spec, data, partial=True):
    """Validate and convert client values (wire form) to Python values. Unknown fields are an error."""
    if not isinstance(data, dict):
        raise ValidationError({"fields": [ValidationError("Expected an object.", code="wrong_type")]})
    unknown = sorted(set(data) - set(spec.policies))
    if unknown:
        raise ValidationError(
            {n: [ValidationError("Unknown or read-only field.", code="unknown_field")] for n in unknown}
        )
    serializer = _input_serializer(spec, data, partial)
    errors = {} if serializer.is_valid() else dict(serializer.errors)
    if not partial:
        for name in _required_on_create(spec):
            if name not in data and name not in errors:
                errors[name] = [serializers.ErrorDetail("This field is required.", code="required")]
    if errors:
        raise _drf_to_django(errors)
    return dict(serializer.validated_data)


_INPUT_SERIALIZERS = threading.local()


def _input_serializer(spec, data, partial):
    """This thread's input serializer for the type, re-armed with new data.

    A new serializer deep-copies its thirty-odd fields, which cost more than validating the values; the fields
    keep no state between calls, so one instance per thread is reused.
    """
    cache = _INPUT_SERIALIZERS.__dict__.setdefault("by_type", {})
    serializer = cache.get(spec.name)
    if serializer is None or type(serializer) is not spec.input_serializer:
        serializer = cache[spec.name] = spec.input_serializer()
    for attr in ("_validated_data", "_errors", "_data"):
        serializer.__dict__.pop(attr, None)
    serializer.initial_data = data
    serializer.partial = partial
    return serializer


def _required_on_create(spec):
    """Fields a new record must carry: not blank, not null, and without a default (a scene response's incident
    among them; the foreign keys the server sets are not the client's to send)."""
    required = []
    for name in spec.policies:
        f = spec.model._meta.get_field(name)
        if not f.blank and not f.null and not f.has_default() and name not in SERVER_SET:
            required.append(name)
    return required


def _drf_to_django(errors):
    out = {}
    for name, errs in errors.items():
        items = errs if isinstance(errs, list) else [errs]
        out[name] = [ValidationError(str(e), code=getattr(e, "code", "invalid")) for e in items]
    return ValidationError(out)


def _resolve_team(spec, user, team_id):
    writable = selectors.readable_team_ids(user, program_codes=spec.programs)
    if team_id is None:
        if len(writable) == 1:
            team_id = next(iter(writable))
        else:
            raise ValidationError(
                {"team": [ValidationError("Say which team this record belongs to.", code="required")]}
            )
    if team_id not in writable:
        raise ValidationError({"team": [ValidationError("Not a team you can write to.", code="team_not_writable")]})
    cache = user.__dict__.setdefault("_team_cache", {})
    if team_id not in cache:
        cache[team_id] = Team.objects.select_related("program").get(pk=team_id)
    return cache[team_id]


# --- writes ------------------------------------------------------------------


def _stamp(instance, ctx, now):
    instance.updated_by = ctx.actor
    instance.server_updated_at = now
    if ctx.app_version:
        instance.app_version = ctx.app_version[:40]
    if ctx.form_version:
        instance.form_version = ctx.form_version[:40]
    if ctx.device_time:
        instance.device_updated_at = ctx.device_time


def _record_version(spec, instance, ctx, changed, now):
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


def _write_changes(ctx, rows):
    if ctx.deferred is not None:
        ctx.deferred.changes.extend(rows)
    else:
        write_changes(rows)


def _audit(spec, instance, ctx, action, **detail):
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


# Foreign keys the server sets itself (or has already checked against the writer's scope): full_clean need not
# query each one again. Primary-key uniqueness is checked explicitly before an insert; other unique
# constraints are still validated (validate_constraints) and guarded by the database.
SERVER_SET = ("program", "team", "created_by", "created_on_device", "updated_by")


def _clean(spec, instance, validated=()):
    """Model validation. `validated` names fields whose values the input serializer just checked with the same
    model validators (types, lengths, choices, JSON shapes): checking them twice doubled a create's CPU time.
    Cross-field rules (Model.clean) always run."""
    instance.full_clean(exclude=[*SERVER_SET, *spec.references, *validated], validate_unique=False)
    if instance._meta.constraints:
        # full_clean skips every constraint naming an excluded field: a DVP number unique per program (a field
        # the server sets) would reach the database as an IntegrityError. Validated with every field here.
        instance.validate_constraints()


def _is_locked(spec, instance):
    shift = spec.lock_shift(instance)
    return shift is not None and shift.is_locked


def record_create(*, spec, ctx, data, record_id=None, team_id=None):
    """Create a record from client values. A record added to an approved shift log is flagged late."""
    values, team = _create_inputs(spec, ctx, data, team_id)
    now = timezone.now()
    # In a push the caller's per-mutation savepoint is the only one needed.
    with transaction.atomic(savepoint=ctx.deferred is None):
        instance = _new_record(spec, ctx, values, team, record_id, now)
        instance.save(force_insert=True)
        _created(spec, ctx, instance, values, now)
    return WriteResult("applied", instance, instance.version)


def prepare_create(*, spec, ctx, data, record_id, team_id=None):
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


def _create_inputs(spec, ctx, data, team_id):
    values = parse_fields(spec, data, partial=False)
    team = _resolve_team(spec, ctx.actor, team_id)
    _check_restricted(spec, ctx.actor, team.program_id, values)
    _check_references(spec, ctx.actor, values, team.pk, team.program_id)
    return values, team


def _new_record(spec, ctx, values, team, record_id, now):
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


def _created(spec, ctx, instance, values, now):
    """A new record's history, change row and audit event."""
    _record_version(spec, instance, ctx, values.keys(), now)
    _write_changes(ctx, record_change_rows(spec.name, instance, Change.Op.UPSERT))
    _audit(spec, instance, ctx, AuditEvent.Action.RECORD_CREATE, late=instance.is_late)


def _known_absent(ctx, record_id):
    """True once for an id the push found absent when it began; a second create of it queries again."""
    if ctx.deferred is None or record_id not in ctx.deferred.known_absent:
        return False
    ctx.deferred.known_absent.discard(record_id)
    return True


def record_exists(spec, record_id):
    """Whether any record, of any type, has this id (ids are unique across types: history and the change
    index are keyed on the id alone)."""
    return bool(taken_ids([record_id]))


def taken_ids(ids):
    """The ids among `ids` that a record of any type already has (deleted ones included), in one query."""
    from .registry import ordered_specs

    ids = list(ids)
    if not ids:
        return set()
    queries = [
        spec.model._base_manager.filter(pk__in=ids).order_by().values_list("pk", flat=True) for spec in ordered_specs()
    ]
    return set(queries[0].union(*queries[1:], all=True))


def id_taken_error(spec, user, record_id):
    """The answer to a create whose id is taken, or None when it is free.

    `record_exists` when the caller can read that record (the same type, in their scope: a create sent twice).
    Otherwise `id_unavailable`, the same answer whatever type, team or program holds the id, so nothing about
    a record outside the caller's scope is told.
    """
    if not taken_ids([record_id]):
        return None
    if scoped_queryset(spec, user, include_deleted=True).filter(pk=record_id).exists():
        return DomainError("record_exists", f"A {spec.name} with this id already exists.", status_code=409)
    return DomainError("id_unavailable", "This id cannot be used; generate a new one.", status_code=409)


def _version_row(ctx, record_id, version):
    pending = ctx.deferred.pending_version(record_id, version) if ctx.deferred is not None else None
    return pending or RecordVersion.objects.filter(record_id=record_id, version=version).first()


@dataclass
class _Later:
    """A version written after a mutation's base: who wrote it, and on behalf of which mutation."""

    version: int
    device_id: object
    mutation_id: object
    changed_fields: list
    author_id: int


def _versions_after(ctx, record_id, version):
    """The versions of a record after `version`, oldest first: those already written and those of this push."""
    later = {
        row["version"]: _Later(**row)
        for row in RecordVersion.objects.filter(record_id=record_id, version__gt=version).values(
            "version", "device_id", "mutation_id", "changed_fields", "author_id"
        )
    }
    if ctx.deferred is not None:
        for row in ctx.deferred.pending_versions_after(record_id, version):
            later[row.version] = _Later(row.version, row.device_id, row.mutation_id, row.changed_fields, row.author_id)
    return [later[v] for v in sorted(later)]


def _is_own(ctx, later):
    """Written by this device's own sync mutation (not a person at a desk, not another device)."""
    return ctx.device is not None and later.mutation_id is not None and later.device_id == ctx.device.pk


def _start_version(instance, base_version, ctx):
    """The version a mutation's merge base starts from, or None when it was made on the current version."""
    if base_version is not None:
        if base_version > instance.version or base_version < 1:
            raise DomainError("invalid_base_version", "The base version is not one the server issued.")
        return base_version
    # No base version: a sync mutation of a record the device has not had acknowledged starts from the record's
    # first version (its own create) with its own edits since; a person at a desk edits the current version.
    return 1 if ctx.causal else None


# Outcomes of a device's own update that it laid on its copy of the record (a rejected one it did not keep).
OWN_EDIT_STATUSES = ("applied", "unchanged", "merged", "conflict")


def _own_edits_since(spec, ctx, record_id, start):
    """The values this device sent in its own updates of the record that were taken in after version `start`
    (each answered with a later version), in the order they were taken in. A rejected one is not on the
    device's copy; one answered with `start` or earlier is in that version already, as merged."""
    from .models import Mutation

    if ctx.device is None:
        return []
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

    values: dict | None  # None: the current version (nothing to merge)
    later: list = field(default_factory=list)  # versions after the start version, oldest first


def _merge_base(spec, instance, base_version, ctx):
    """What the writer knew of the record: docs/sync-protocol.md, "The merge base"."""
    if ctx.base_data is not None:
        return _Base(ctx.base_data)
    start = _start_version(instance, base_version, ctx)
    if start is None or start == instance.version:
        return _Base(None)
    row = _version_row(ctx, instance.pk, start)
    own = _own_edits_since(spec, ctx, instance.pk, start)
    return _Base(merge.effective_base(row.data if row else {}, own), _versions_after(ctx, instance.pk, start))


def _kept_value_author(ctx, instance, base, name):
    """Who set the value a conflict keeps: the author of the newest version that changed the field."""
    later = base.later or _versions_after(ctx, instance.pk, 0)
    for v in reversed(later):
        if name in (v.changed_fields or []):
            return v.author_id
    return instance.created_by_id


def record_update(*, spec, ctx, instance, data, base_version=None):
    """Apply the fields a client changed, merged against what changed since the writer's base (sync/merge.py).

    `instance` must come from get_for_write (locked, in scope). Edits to a
    record on an approved shift log become an amendment request instead.
    """
    values = parse_fields(spec, data, partial=True)
    if instance.deleted_at is not None:
        raise DomainError("record_deleted", f"This {spec.name} was deleted.", status_code=409)
    _check_restricted(spec, ctx.actor, instance.program_id, values)
    _check_references(spec, ctx.actor, values, instance.team_id, instance.program_id)
    if "team" in data:
        raise ValidationError({"team": [ValidationError("Use the move operation to change teams.", code="read_only")]})
    if _is_locked(spec, instance) and not ctx.allow_locked:
        return _request_amendment(spec, ctx, instance, Change.Op.UPSERT, data, base_version)

    now = timezone.now()
    incoming = {name: canonical(spec, name, value) for name, value in values.items()}
    base = _merge_base(spec, instance, base_version, ctx)
    outcome = merge.merge_record(spec.policies, spec.transitions, base.values, snapshot(spec, instance), incoming)
    conflicts = [
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
        for c in outcome.conflicts
    ]
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


def record_delete(*, spec, ctx, instance, base_version=None):
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


def record_move(*, spec, ctx, instance, team_id):
    """Reassign a record to another team of the same program (supervisors and program admins).

    Devices of the old team get a removal on their next pull.
    """
    role = selectors.role_in_program(ctx.actor, instance.program_id)
    if role not in TEAM_MOVE_ROLES:
        raise DomainError("permission_denied", "Only a supervisor or program admin can move records.", status_code=403)
    target = _resolve_team(spec, ctx.actor, team_id)
    if target.program_id != instance.program_id:
        raise ValidationError({"team": [ValidationError("Records stay in their program.", code="wrong_program")]})
    if _is_locked(spec, instance):
        raise DomainError("record_locked", "The record is on an approved shift log.", status_code=409)
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


def _request_amendment(spec, ctx, instance, op, data, base_version):
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
