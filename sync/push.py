"""Push: apply a device's mutations in the device's order, each atomically, none lost.

One push is one database transaction holding the device's sync-state row
lock, so two pushes from one device never interleave. Each mutation runs
in a savepoint: a bad one is rolled back alone and recorded as rejected
(quarantined) while the others apply. The Mutation row, which makes a
replay idempotent, is written in the same transaction as the change it
describes, so both commit or neither does.
"""

import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from backend.dates import try_parse_datetime
from backend.errors import DomainError, TooLarge, Unavailable, django_validation_error_fields
from records.access import get_for_write, scoped_queryset
from records.bulk import insert_many
from records.read_ahead import ReadAhead, read_versions
from records.registry import RecordSpec, get_spec
from records.writes import (
    DeferredWrites,
    WriteContext,
    WriteResult,
    id_taken_error,
    prepare_create,
    record_create,
    record_delete,
    record_update,
    taken_ids,
)
from responders import selectors
from responders.models import Device, Team, User
from sync.merge_base import stored_own_edits
from sync.models import DeviceSyncState, Mutation, QuarantinedPush

OPS = {"create", "update", "delete"}
# Mutations of WatermelonDB's protocol (sync/watermelon/) carry a base snapshot instead of a base version.
WATERMELON_PROTOCOL = 1001


@dataclass
class Envelope:
    """A mutation whose envelope was readable (id, seq, type, op, record id)."""

    index: int
    mutation_id: uuid.UUID
    seq: int
    type: str
    op: str
    record_id: uuid.UUID
    base_version: int | None
    fields: dict[str, Any]
    team: int | None
    device_time: object
    form_version: str
    raw: dict[str, Any]


# (status, result extras, program id, team id) of a settled mutation.
Outcome = tuple[str, dict[str, Any], int | None, int | None]


def _envelope_error(index: int, raw: Any, code: str, message: str) -> dict[str, Any]:
    mid = raw.get("mutation_id") if isinstance(raw, dict) else None
    return {
        "index": index,
        "mutation_id": mid if isinstance(mid, str) else None,
        "status": "rejected",
        "code": code,
        "message": message,
        "fields": {},
    }


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except (ValueError, AttributeError, TypeError):
        return None


def read_envelope(index: int, raw: Any) -> tuple[Envelope | None, dict[str, Any] | None]:
    """Validate one mutation's envelope. Returns (Envelope, None) or (None, error result)."""
    if not isinstance(raw, dict):
        return None, _envelope_error(index, raw, "invalid_mutation", "A mutation is an object.")
    mid, rid = _uuid(raw.get("mutation_id")), _uuid(raw.get("id"))
    seq, op, kind = raw.get("seq"), raw.get("op"), raw.get("type")
    base, fields, team = raw.get("base_version"), raw.get("fields", {}), raw.get("team")
    problems = []
    if mid is None:
        problems.append("mutation_id must be a UUID")
    if rid is None:
        problems.append("id must be a UUID")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= 2**62:
        problems.append("seq must be a positive integer")
    if op not in OPS:
        problems.append("op must be create, update or delete")
    if not isinstance(kind, str) or len(kind) > 32:
        problems.append("type must be a record type")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 1):
        problems.append("base_version must be a positive integer")
    if not isinstance(fields, dict):
        problems.append("fields must be an object")
    if team is not None and (not isinstance(team, int) or isinstance(team, bool)):
        problems.append("team must be a team id")
    if problems:
        return None, _envelope_error(index, raw, "invalid_mutation", "; ".join(problems) + ".")
    device_time = raw.get("device_time")
    device_time = try_parse_datetime(device_time)
    form_version = raw.get("form_version") if isinstance(raw.get("form_version"), str) else ""
    # The checks above leave every value of the type the envelope declares.
    envelope = Envelope(index, mid, seq, kind, op, rid, base, fields, team, device_time, form_version[:40], raw)  # type: ignore[arg-type,index]
    return envelope, None


def _result(env_or_row: Envelope | Mutation, status: str, **extra: Any) -> dict[str, Any]:
    if isinstance(env_or_row, Mutation):
        mid, seq, kind, rid = env_or_row.pk, env_or_row.seq, env_or_row.record_type, env_or_row.record_id
    else:
        mid, seq, kind, rid = env_or_row.mutation_id, env_or_row.seq, env_or_row.type, env_or_row.record_id
    body = {"mutation_id": str(mid), "seq": seq, "type": kind, "id": str(rid), "status": status}
    body.update(extra)
    return body


def _apply(
    user: User,
    device: Device,
    app_version: str,
    mutation: Mutation,
    request: Any,
    deferred: DeferredWrites | None,
    create: Callable[..., WriteResult] = record_create,
) -> tuple[str, dict[str, Any], int | None, int | None, Any]:
    """Apply one mutation (the caller holds a savepoint). Returns (status, result extras, program_id, team_id).

    create: record_create, or prepare_create for a run of creates whose records the caller inserts together.
    """
    spec = get_spec(mutation.record_type)
    payload = mutation.payload
    ctx = WriteContext(
        actor=user,
        device=device,
        mutation=mutation,
        app_version=app_version,
        form_version=payload.get("form_version") or "",
        device_time=try_parse_datetime(payload.get("device_time")),
        request=request,
        deferred=deferred,
        causal=True,
    )
    if mutation.protocol == WATERMELON_PROTOCOL and isinstance(payload.get("_base"), dict):
        # The WatermelonDB adapter's merge base: what the device held before its edit (sync/watermelon/).
        ctx.base_data = payload["_base"]
    fields = payload.get("fields") or {}
    if mutation.op == "create":
        result = create(spec=spec, ctx=ctx, data=fields, record_id=mutation.record_id, team_id=payload.get("team"))
    else:
        ahead = deferred.ahead if deferred is not None else None
        locked = (ahead.take(spec.name, mutation.record_id) if ahead is not None else None) or get_for_write(
            spec, user, mutation.record_id
        )
        if mutation.op == "update":
            result = record_update(spec=spec, ctx=ctx, instance=locked, data=fields, base_version=mutation.base_version)
        else:
            result = record_delete(spec=spec, ctx=ctx, instance=locked, base_version=mutation.base_version)
    extras: dict[str, Any] = {"version": result.version}
    instance: Any = result.instance
    if result.merged_fields:
        extras["merged_fields"] = result.merged_fields
    if result.conflicts:
        extras["conflicts"] = [{"id": str(c.pk), "field": c.field} for c in result.conflicts]
    amendment: Any = result.amendment
    if amendment is not None:
        extras["amendment_id"] = str(amendment.pk)
    if result.status == "conflict" and mutation.op == "delete":
        extras["record"] = None
    return result.status, extras, instance.program_id, instance.team_id, instance


def _intended_scope(user: User, mutation: Mutation) -> tuple[int | None, int | None]:
    """The team a rejected mutation was meant for, when the author may see it: so its supervisor sees it too."""
    readable = selectors.readable_team_ids(user)
    if mutation.op == "create":
        team_id = mutation.payload.get("team")
        if team_id is None and len(readable) == 1:
            team_id = next(iter(readable))
    else:
        try:
            spec = get_spec(mutation.record_type)
        except DomainError:
            return None, None
        team_id = (
            scoped_queryset(spec, user, include_deleted=True)
            .filter(pk=mutation.record_id)
            .values_list("team_id", flat=True)
            .first()
        )
    if team_id not in readable:
        return None, None
    return Team.objects.filter(pk=team_id).values_list("program_id", flat=True).first(), team_id


def process_mutation(
    user: User,
    device: Device,
    app_version: str,
    mutation: Mutation,
    request: Any = None,
    deferred: DeferredWrites | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Apply a mutation (status pending) and store its outcome. Never raises for the client's faults.

    With `deferred` (a push), the write's history, change row and audit event are added to it and written when
    the push ends; what a rolled-back mutation added is dropped. With save=False the caller inserts the
    Mutation row itself, in the same transaction.
    """
    mark = deferred.mark() if deferred is not None else None
    outcome: Outcome
    try:
        with transaction.atomic():
            applied = _apply(user, device, app_version, mutation, request, deferred)
            outcome = applied[0], applied[1], applied[2], applied[3]
    except (ValidationError, DomainError) as exc:
        outcome = _rejection(exc)
    except DataError:  # a value the database refused: this mutation only, as any other bad value
        outcome = Mutation.Status.REJECTED, _DATA_ERROR, None, None
    except IntegrityError:
        outcome = _rejection(None)
        taken = _created_elsewhere(user, mutation) if mutation.op == "create" else None
        if taken is not None:
            outcome[1].update(code=taken.code, message=taken.message)
    if outcome[0] == Mutation.Status.REJECTED and deferred is not None and mark is not None:
        deferred.rollback_to(mark)
    _settle(user, mutation, *outcome)
    if save:
        mutation.save(update_fields=["status", "result", "reason_code", "processed_at", "program", "team"])
    result: dict[str, Any] = mutation.result
    return result


_DATA_ERROR = {"code": "invalid_value", "message": "A value is out of the range the server can store.", "fields": {}}


def _rejection(exc: Exception | None) -> Outcome:
    """(status, extras, program_id, team_id) of a mutation rejected for `exc` (None: an integrity error)."""
    if isinstance(exc, ValidationError):
        extras = {
            "code": "validation_error",
            "message": "Some fields are not valid.",
            "fields": django_validation_error_fields(exc),
        }
    elif isinstance(exc, DomainError):
        extras = {"code": exc.code, "message": exc.message, "fields": exc.fields}
    else:
        extras = {
            "code": "integrity_error",
            "message": "The change clashes with another record (a unique value?).",
            "fields": {},
        }
    return Mutation.Status.REJECTED, extras, None, None


def _settle(
    user: User, mutation: Mutation, status: str, extras: dict[str, Any], program_id: int | None, team_id: int | None
) -> None:
    """Record a mutation's outcome on its (unsaved) row."""
    if status == Mutation.Status.REJECTED:
        program_id, team_id = _intended_scope(user, mutation)
    mutation.status = status
    mutation.result = _result(mutation, status, **extras)
    mutation.reason_code = extras.get("code", "")
    mutation.processed_at = timezone.now()
    mutation.program_id = program_id
    mutation.team_id = team_id


def _apply_creates(
    user: User, device: Device, app_version: str, rows: list[Mutation], request: Any, deferred: DeferredWrites
) -> None:
    """Apply a run of consecutive creates with one insert (a COPY) per record type, under one savepoint.

    Each create is validated as process_mutation would (same checks, same errors); the valid ones' records are
    then inserted together. If an insert fails (a unique value, an id another push just took, anything the
    database refuses), the savepoint is rolled back, what the run added to `deferred` is dropped, and the run
    is applied one mutation at a time, so that exactly the offending mutation is rejected. The caller keeps
    a run free of creates that depend on records the run itself inserts (Run.depends_on).
    Sets each row's outcome as process_mutation(save=False) does; returns nothing.
    """
    run_mark, absent = deferred.mark(), set(deferred.known_absent)
    outcomes: list[Any] = []
    records: dict[Any, Any] = {}
    try:
        with transaction.atomic():
            for row in rows:
                mark = deferred.mark()
                outcome: Outcome
                try:
                    applied = _apply(user, device, app_version, row, request, deferred, create=prepare_create)
                    records.setdefault(type(applied[4]), []).append(applied[4])
                    outcome = applied[0], applied[1], applied[2], applied[3]
                except (ValidationError, DomainError) as exc:
                    deferred.rollback_to(mark)
                    outcome = _rejection(exc)
                outcomes.append(outcome)
            for model, instances in records.items():
                insert_many(model, instances)
    except DatabaseError:
        deferred.rollback_to(run_mark)
        deferred.known_absent = absent
        for row in rows:
            process_mutation(user, device, app_version, row, request, deferred, save=False)
        return
    for row, outcome in zip(rows, outcomes, strict=True):
        _settle(user, row, *outcome)


def push(
    *,
    user: User,
    device: Device,
    protocol: int,
    app_version: str,
    mutations: list[Any],
    request: Any = None,
    assign_seq: bool = False,
) -> dict[str, Any]:
    """Apply a batch. Returns {"results": [...in request order], "next_seq": n}.

    assign_seq: the mutations carry no device order of their own (WatermelonDB's push): they take the device's
    next sequence numbers, in request order, under the device lock.
    """
    results, envelopes = _read_batch(mutations, user=user, device=device, protocol=protocol, app_version=app_version)
    with transaction.atomic():
        state, _ = DeviceSyncState.objects.select_for_update().get_or_create(device=device)
        if assign_seq:
            for offset, env in enumerate(envelopes):
                env.seq = env.raw["seq"] = state.next_seq + offset
        known = {m.pk: m for m in Mutation.objects.filter(pk__in=[e.mutation_id for e in envelopes])}
        batch = _Batch(
            user=user,
            device=device,
            protocol=protocol,
            app_version=app_version,
            request=request,
            state=state,
            results=results,
            # Side rows (versions, change rows, audit events) and the Mutation rows of mutations applied now are
            # written in bulk before commit: same transaction, a few statements instead of several per mutation.
            deferred=DeferredWrites(known_absent=_absent_record_ids(envelopes)),
            # Only a device with mutations waiting for a gap needs the drain after each applied one.
            waiting=Mutation.objects.filter(device=device, status=Mutation.Status.PENDING).exists(),
        )
        batch.deferred.ahead = read_ahead(user, device, [e for e in envelopes if e.seq >= state.next_seq])
        seen_in_batch: set[uuid.UUID] = set()
        for env in sorted(envelopes, key=lambda e: (e.seq, e.index)):
            answer = _answer_without_applying(env, known.get(env.mutation_id), seen_in_batch, device, state)
            if answer is not None:
                results[env.index] = answer
            else:
                batch.take(env)
        batch.finish()
        _audit_push(user, device, request, results, state.next_seq)
    return {"results": results, "next_seq": state.next_seq}


def _read_batch(
    mutations: list[Any], *, user: User, device: Device, protocol: int, app_version: str
) -> tuple[list[Any], list[Envelope]]:
    """(results with the unreadable mutations answered, readable envelopes). Unreadable mutations cannot be
    tracked by id: they are kept whole for a person to look at."""
    results: list[Any] = [None] * len(mutations)
    envelopes: list[Envelope] = []
    for index, raw in enumerate(mutations):
        env, error = read_envelope(index, raw)
        if env is None:
            results[index] = error
        else:
            envelopes.append(env)
    if any(r is not None for r in results):
        bad = [mutations[i] for i, r in enumerate(results) if r is not None]
        QuarantinedPush.objects.create(
            device=device,
            user=user,
            protocol=str(protocol),
            app_version=app_version,
            reason_code="invalid_mutation",
            body={"mutations": bad},
        )
    return results, envelopes


def _answer_without_applying(
    env: Envelope, existing: Mutation | None, seen_in_batch: set[uuid.UUID], device: Device, state: DeviceSyncState
) -> dict[str, Any] | None:
    """The answer to a mutation that is not applied now (a repeat, a reused id or seq), or None."""
    if env.mutation_id in seen_in_batch:
        message = "This mutation id appears twice in the batch."
        return _result(env, "rejected", code="duplicate_in_batch", message=message, fields={})
    seen_in_batch.add(env.mutation_id)
    if existing is not None:
        if existing.device_id != device.pk or existing.seq != env.seq:
            return _result(
                env,
                "rejected",
                code="mutation_id_reused",
                message="This mutation id was used for another mutation.",
                fields={},
            )
        existing.refresh_from_db()  # an earlier mutation of this batch may have released it
        if existing.status == Mutation.Status.PENDING:
            return _result(env, "pending", waiting_for_seq=state.next_seq)
        return {**existing.result, "duplicate": True}
    if env.seq < state.next_seq:
        return _result(
            env,
            "rejected",
            code="sequence_reused",
            fields={},
            message="This device already sent a different mutation with this seq; a reinstalled app "
            "must register as a new device.",
        )
    return None


@dataclass
class _Batch:
    """The mutations of one push taken in device order, under the device lock."""

    user: Any
    device: Any
    protocol: Any
    app_version: str
    request: Any
    state: DeviceSyncState
    results: list[Any]
    deferred: DeferredWrites
    waiting: bool
    applied_rows: list[Mutation] = field(default_factory=list)
    # Consecutive creates applied now are gathered into a run and inserted together (_apply_creates); the run is
    # applied before anything whose outcome could depend on it.
    run: "Run" = field(default_factory=lambda: Run())

    def _apply_run(self) -> None:
        self.run.apply(self.user, self.device, self.app_version, self.request, self.deferred, self.results)

    def take(self, env: Envelope) -> None:
        row = Mutation(
            id=env.mutation_id,
            device=self.device,
            user=self.user,
            seq=env.seq,
            record_type=env.type,
            record_id=env.record_id,
            op=env.op,
            base_version=env.base_version,
            payload=env.raw,
            status=Mutation.Status.PENDING,
            protocol=self.protocol,
            app_version=self.app_version[:40],
            result={},
        )
        state = self.state
        if env.seq == state.next_seq and env.op == "create" and not self.waiting:
            # No drain follows a create here (nothing is waiting), so it can wait for the rest of its run.
            if self.run.depends_on(env):
                self._apply_run()
            self.run.add(env, row)
            self.applied_rows.append(row)
            state.next_seq += 1
            return
        self._apply_run()
        if env.seq > state.next_seq:
            # Stored now: the drain of a later mutation finds it in the table.
            row.result = _result(row, "pending", waiting_for_seq=state.next_seq)
            row.save(force_insert=True)
            self.results[env.index] = row.result
            self.waiting = True
            return
        self.results[env.index] = process_mutation(
            self.user, self.device, self.app_version, row, self.request, self.deferred, save=False
        )
        self.applied_rows.append(row)
        self.deferred.mutations.append(row)
        state.next_seq += 1
        if self.waiting:
            _drain(self.user, self.device, self.app_version, state, self.request, self.deferred)

    def finish(self) -> None:
        self._apply_run()
        insert_many(Mutation, self.applied_rows)
        self.deferred.flush()
        self.state.last_push_at = timezone.now()
        self.state.save(update_fields=["next_seq", "last_push_at"])


def _audit_push(user: User, device: Device, request: Any, results: list[Any], next_seq: int) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    audit_record(
        action=AuditEvent.Action.SYNC_PUSH,
        actor=user,
        device=device,
        request=request,
        object_type="device",
        object_id=device.pk,
        counts=counts,
        next_seq=next_seq,
    )


class Run:
    """Consecutive creates of a push, gathered to be applied together by _apply_creates."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rows: list[Mutation] = []
        self.record_ids: set[uuid.UUID] = set()

    def depends_on(self, env: Envelope) -> bool:
        """Whether a create must not join the run: it names a record the run creates (its own id again, or a
        reference such as a scene response's incident). Validated before the run's INSERT, it would not find
        that record, where applied one by one it would."""
        if env.record_id in self.record_ids:
            return True
        return any(_uuid(env.fields.get(name)) in self.record_ids for name in _reference_fields(env.type))

    def add(self, env: Envelope, row: Mutation) -> None:
        self.envelopes.append(env)
        self.rows.append(row)
        self.record_ids.add(env.record_id)

    def apply(
        self, user: User, device: Device, app_version: str, request: Any, deferred: DeferredWrites, results: list[Any]
    ) -> None:
        if not self.rows:
            return
        _apply_creates(user, device, app_version, self.rows, request, deferred)
        for env, row in zip(self.envelopes, self.rows, strict=True):
            results[env.index] = row.result
        self._reset()


_REFERENCE_FIELDS: dict[str, Any] = {}


def _reference_fields(type_name: str) -> tuple[str, ...]:
    """A record type's writable foreign keys (the fields a create can name another record by)."""
    names = _REFERENCE_FIELDS.get(type_name)
    if names is None:
        try:
            spec = get_spec(type_name)
        except DomainError:
            return ()
        names = tuple(n for n in spec.policies if spec.model._meta.get_field(n).is_relation)
        _REFERENCE_FIELDS[type_name] = names
    return names


def _drain(
    user: User,
    device: Device,
    app_version: str,
    state: DeviceSyncState,
    request: Any,
    deferred: DeferredWrites | None = None,
) -> None:
    """Apply earlier-received mutations that were waiting for the one just applied."""
    while True:
        waiting = Mutation.objects.filter(device=device, seq=state.next_seq, status=Mutation.Status.PENDING).first()
        if waiting is None:
            return
        if deferred is not None:
            deferred.ahead = None  # a stored mutation of the device changes: its own edits are read again
        process_mutation(waiting.user, device, waiting.app_version or app_version, waiting, request, deferred)
        state.next_seq += 1


def _created_elsewhere(user: User, mutation: Mutation) -> DomainError | None:
    """A create whose id another push inserted after this one checked (the savepoint is already rolled back):
    the answer a create of a taken id gets (record_exists or id_unavailable), or None."""
    try:
        return id_taken_error(get_spec(mutation.record_type), user, mutation.record_id)
    except DomainError:
        return None


def read_ahead(user: User, device: Device, envelopes: list[Envelope]) -> ReadAhead:
    """Lock the records this push's updates and deletes name, and read their merge bases' history, in a few
    statements (records/read_ahead.py says why that is safe). Records out of scope, or not there, are left to
    each mutation, which answers as before."""
    ahead = ReadAhead()
    for spec, ids in _ids_by_type(envelopes, ("update", "delete")):
        locked = scoped_queryset(spec, user, include_deleted=True).select_for_update(of=("self",))
        for record in locked.select_related("program", "team").filter(pk__in=ids).order_by("pk"):
            ahead.records[(spec.name, record.pk)] = record
    found = {record_id for _, record_id in ahead.records}
    starts: dict[Any, set[int]] = {}
    for env in envelopes:
        if env.op in ("update", "delete") and env.record_id in found:
            starts.setdefault(env.record_id, set()).add(env.base_version or 1)
    read_versions(ahead, starts)
    ahead.own_edits = stored_own_edits(device, sorted(found))
    return ahead


def _absent_record_ids(envelopes: list[Envelope]) -> set[uuid.UUID]:
    """Ids this batch creates that no record has yet: one query per type instead of one per create."""
    ids = set().union(*(of_type for _, of_type in _ids_by_type(envelopes, ("create",))))
    # Absent from every type: an id another type holds is not free (history is keyed on the id alone).
    return ids - taken_ids(ids)


def _ids_by_type(envelopes: list[Envelope], ops: tuple[str, ...]) -> list[tuple[RecordSpec, set[uuid.UUID]]]:
    """The record ids the mutations with these ops name, by record type; unknown types are left out (each such
    mutation is rejected on its own)."""
    by_name: dict[str, set[uuid.UUID]] = {}
    for env in envelopes:
        if env.op in ops:
            by_name.setdefault(env.type, set()).add(env.record_id)
    out = []
    for name, ids in by_name.items():
        try:
            out.append((get_spec(name), ids))
        except DomainError:
            continue
    return out


def quarantine_unsupported(*, user: User, device: Device, protocol: Any, app_version: Any, body: Any) -> None:
    """Keep a push from an app speaking a protocol this server does not: nothing it carried is lost."""
    QuarantinedPush.objects.create(
        device=device,
        user=user,
        protocol=str(protocol)[:20],
        app_version=str(app_version)[:40],
        reason_code="unsupported_protocol",
        body=body,
    )


class _Admission:
    """Push slots of this process, and a schedule for the pushes turned away.

    A refused push is given a time to come back: the end of the pushes already promised a slot, estimated from
    how long pushes take here. At the end of a shift every van pushes at once; telling each a different,
    realistic time spreads them over the backlog, instead of having them all retry every few seconds (each
    retry costs a request and a 400 KB body on the same cores as the pushes).
    """

    def __init__(self, size: int) -> None:
        self.slots = threading.BoundedSemaphore(size)
        self.size = size
        self.lock = threading.Lock()
        self.push_seconds = 1.0  # moving average of how long a push holds its slot
        self.free_at = 0.0  # monotonic time by which the pushes promised so far should have run

    def retry_after(self, limit: int) -> int:
        with self.lock:
            now = time.monotonic()
            self.free_at = max(self.free_at, now) + self.push_seconds / self.size
            wait = self.free_at - now
        # Whole seconds (the header's unit), never 0, a little jitter so those given the same second spread.
        return max(1, min(limit, math.ceil(wait + random.uniform(0, 1))))  # noqa: S311 (jitter)

    def finished(self, seconds: float) -> None:
        with self.lock:
            self.push_seconds = 0.8 * self.push_seconds + 0.2 * seconds


_ADMISSION: dict[int, "_Admission"] = {}
_ADMISSION_LOCK = threading.Lock()


def _admission(size: int) -> "_Admission":
    with _ADMISSION_LOCK:
        return _ADMISSION.setdefault(size, _Admission(size))


@contextmanager
def push_slot() -> Iterator[None]:
    """Admission for pushes: at most SYNC_PUSH_CONCURRENCY at once in this process; a push that cannot start
    within SYNC_PUSH_QUEUE_SECONDS gets 503 with Retry-After (nothing of it applied) instead of queueing until
    the app's request times out. Take it before reading the body: a refused push costs no parsing.
    """
    admission = _admission(settings.SYNC_PUSH_CONCURRENCY)
    if not admission.slots.acquire(timeout=settings.SYNC_PUSH_QUEUE_SECONDS):
        raise Unavailable(
            "server_busy",
            "The server is taking in other pushes; nothing of this one was applied. Retry after the delay given.",
            extra={"retry_after": admission.retry_after(settings.SYNC_PUSH_RETRY_AFTER_MAX)},
        )
    started = time.monotonic()
    try:
        yield
    finally:
        admission.finished(time.monotonic() - started)
        admission.slots.release()


def check_batch_size(mutations: list[Any]) -> None:
    limit = settings.SYNC_MAX_PUSH_MUTATIONS
    if len(mutations) > limit:
        raise TooLarge(
            "batch_too_large",
            f"Send at most {limit} mutations per push; split the queue.",
            extra={"limit": limit},
        )
