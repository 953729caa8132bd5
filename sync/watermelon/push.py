"""WatermelonDB's pushChanges as engine mutations (docs/watermelondb.md, "Push").

Each pushed row becomes one engine mutation, applied by the engine's push (scope, merge rules, conflicts,
quarantine, audit) with the device's next sequence numbers. WatermelonDB sends no base version: the merge base
is what the device held when it edited (WatermelonShadow, see `_edited_before_pull`). After the push, every row
is compared with the record as the server now has it: whenever they differ (a merge, a conflict, a re-push of a
row whose answer was lost, a created row's server_version), the device's next pull sends the server's row.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db import transaction

from backend.errors import DomainError, TooLarge
from records.access import scoped_queryset
from records.registry import RecordSpec
from records.wire import to_wire
from responders import selectors
from responders.models import Device, User
from sync.models import DeviceSyncState, Mutation, WatermelonCheckpoint, WatermelonShadow

from .. import push as push_engine
from .mapping import IGNORED, canonical_state, columns, decode, encode, same_as_server, specs_by_table


def _changes_shape(changes: Any) -> dict[str, RecordSpec]:
    by_table = specs_by_table()
    if not isinstance(changes, dict):
        raise DomainError("invalid_changes", "changes must be an object of tables.")
    unknown = sorted(set(changes) - set(by_table))
    if unknown:
        raise DomainError(
            "unknown_table",
            f"Not a table of this server's schema: {', '.join(unknown)[:200]}.",
            extra={"tables": unknown},
        )
    seen: set[tuple[str, uuid.UUID]] = set()
    for table, part in changes.items():
        if not isinstance(part, dict) or not all(
            isinstance(part.get(k, []), list) for k in ("created", "updated", "deleted")
        ):
            raise DomainError("invalid_changes", f"changes.{table} must be {{created: [], updated: [], deleted: []}}.")
        rows = [*part.get("created", []), *part.get("updated", [])]
        if not all(isinstance(r, dict) for r in rows) or not all(isinstance(i, str) for i in part.get("deleted", [])):
            raise DomainError("invalid_changes", f"changes.{table}: created/updated hold rows, deleted holds ids.")
        for rid in [r.get("id") for r in rows] + part.get("deleted", []):
            try:
                parsed = uuid.UUID(rid) if isinstance(rid, str) else None
            except ValueError:
                parsed = None
            # The canonical lowercase form only: the server answers with it, and WatermelonDB compares ids as text.
            if parsed is None or str(parsed) != rid:
                raise DomainError(
                    "invalid_id",
                    f"{table}: record ids must be lowercase UUIDs (set WatermelonDB's id generator to UUIDs); "
                    f"got {str(rid)[:60]!r}.",
                )
            if (table, parsed) in seen:
                raise DomainError("duplicate_id", f"{table}: {parsed} appears twice in one push.")
            seen.add((table, parsed))
    return by_table


def _edited_before_pull(
    shadow: WatermelonShadow | None,
    last_pulled_at: int | None,
    pushed_through: int,
    row_version: Any = None,
    kept: bool = False,
) -> bool:
    """Was the device's edit made before the pull that brought the version its shadow holds?

    WatermelonDB applies a pull on top of a locally edited row (local columns win), so the row it pushes does not
    say which server version the edit started from. With the documented conflictResolver that keeps the local
    `server_version` of an edited row (kept=True), the pushed `server_version` says it: older than the version
    the device was last sent means the edit came first. Without it the adapter assumes the edit came first
    unless the device has completed a push since it got that version: a wrong guess costs a conflict record
    (nothing is lost), the other guess would overwrite the newer value silently.
    """
    if shadow is None or shadow.checkpoint == 0 or (shadow.prior_version is None and shadow.prior_data is None):
        return False  # nothing pulled over a version the device held before: there is no earlier base
    if kept and _is_version(row_version) and shadow.version is not None:
        return bool(row_version < shadow.version)
    if last_pulled_at is None:
        return False
    return bool(shadow.rejected_row) or pushed_through < shadow.checkpoint


def _is_version(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**31


def _base(shadow: WatermelonShadow | None, before_pull: bool) -> tuple[str, Any] | None:
    """What the device held when it made its edit: ("data", values) or ("version", n); None if unknown."""
    if shadow is None:
        return None
    version, data = (shadow.prior_version, shadow.prior_data) if before_pull else (shadow.version, shadow.data)
    if data is not None:
        return ("data", data)
    if version is not None:
        return ("version", version)
    return None


def _held_version(shadow: WatermelonShadow | None, before_pull: bool) -> int | None:
    if shadow is None:
        return None
    return shadow.prior_version if before_pull else shadow.version


def _fingerprint(table: str, rid: uuid.UUID, fields: dict[str, Any]) -> str:
    text = json.dumps([table, str(rid), fields], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def push(**kwargs: Any) -> dict[str, Any]:
    """A WatermelonDB push, under the device's sync lock from the start: what the merge bases and repeat
    answers are read from (shadows, checkpoints) cannot change under it by another push of the same device."""
    with transaction.atomic():
        DeviceSyncState.objects.select_for_update().get_or_create(device=kwargs["device"])
        return _push(**kwargs)


def _push(
    *,
    user: User,
    device: Device,
    changes: Any,
    last_pulled_at: int | None,
    app_version: str = "",
    request: Any = None,
    kept_server_version: bool = False,
) -> dict[str, Any]:
    by_table = _check_changes(changes)
    plan = Plan(user, device, last_pulled_at, kept_server_version, changes)
    for table, spec in by_table.items():  # parents before children: incidents before their scene responses
        if changes.get(table):
            plan.add_table(table, spec, changes[table])
    with transaction.atomic():  # all of the push and the shadows, or none: a retry must not merge twice
        outcome = _apply_push(plan, app_version, request)
        _answer_repeats(device, plan.repeats, outcome)
        if last_pulled_at is not None:
            # Every local change the device had when it pulled at last_pulled_at is now settled (applied, merged,
            # kept as a conflict, or rejected and remembered): later edits start from what that pull brought.
            WatermelonCheckpoint.objects.filter(device=device, pk=last_pulled_at).update(pushed_through=last_pulled_at)
        return outcome


def _check_changes(changes: Any) -> dict[str, RecordSpec]:
    """The changes object's shape, size and columns; any fault is a 4xx and nothing is applied."""
    by_table = _changes_shape(changes)
    total = sum(len(p.get(k, [])) for p in changes.values() for k in ("created", "updated", "deleted"))
    if total > settings.SYNC_WATERMELON_MAX_PUSH_RECORDS:
        raise TooLarge(
            "batch_too_large",
            f"Push at most {settings.SYNC_WATERMELON_MAX_PUSH_RECORDS} records at a time.",
            extra={"limit": settings.SYNC_WATERMELON_MAX_PUSH_RECORDS},
        )
    for table, part in changes.items():
        cols = columns(by_table[table])
        for raw in [*part.get("created", []), *part.get("updated", [])]:
            unknown = sorted(set(raw) - set(cols) - IGNORED)
            if unknown:
                raise DomainError(
                    "unknown_column",
                    f"{table}.{unknown[0]} is not a column of this server's schema "
                    "(GET /api/v1/sync/watermelon/schema).",
                    extra={"table": table, "columns": unknown[:20]},
                )
    return by_table


@dataclass
class Row:
    """One pushed row or deletion, as the mutation it became."""

    table: str
    spec: RecordSpec
    rid: uuid.UUID
    mutation: dict[str, Any]
    raw: dict[str, Any] | None = None  # the row as pushed (None: a deletion)
    whole: dict[str, Any] | None = None  # every writable column of it, as engine fields
    fingerprint: str = ""


@dataclass
class Plan:
    """A push turned into engine mutations, with what the device held of each record (its merge base)."""

    user: User
    device: Device
    last_pulled_at: int | None
    kept: bool  # the app's conflictResolver keeps an edited row's server_version (server_version=kept)
    changes: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    repeats: list[tuple[str, uuid.UUID, Any, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.roles = {m.program.code: m.role for m in selectors.memberships_for(self.user)}
        ids = {
            uuid.UUID(rid)
            for part in self.changes.values()
            for rid in [r["id"] for r in [*part.get("created", []), *part.get("updated", [])]] + part.get("deleted", [])
        }
        self.shadows = {s.record_id: s for s in WatermelonShadow.objects.filter(device=self.device, record_id__in=ids)}
        self.pushed_through = 0
        if self.last_pulled_at is not None:
            self.pushed_through = (
                WatermelonCheckpoint.objects.filter(device=self.device, pk=self.last_pulled_at)
                .values_list("pushed_through", flat=True)
                .first()
            ) or 0

    def before_pull(self, rid: uuid.UUID, row_version: Any = None) -> bool:
        shadow = self.shadows.get(rid)
        return _edited_before_pull(shadow, self.last_pulled_at, self.pushed_through, row_version, self.kept)

    def add_table(self, table: str, spec: RecordSpec, part: dict[str, Any]) -> None:
        role = self.roles.get(next(iter(spec.programs)))
        rows = [(r, False) for r in part.get("created", [])] + [(r, True) for r in part.get("updated", [])]
        wanted = [uuid.UUID(r["id"]) for r, _ in rows] + [uuid.UUID(i) for i in part.get("deleted", [])]
        existing = dict(spec.model._base_manager.filter(pk__in=wanted).values_list("pk", "deleted_at"))
        for raw, is_update in rows:
            self._add_row(table, spec, role, raw, is_update, existing)
        if part.get("deleted"):
            self._add_deletes(table, spec, part["deleted"], existing)

    def _add_row(
        self,
        table: str,
        spec: RecordSpec,
        role: str | None,
        raw: dict[str, Any],
        is_update: bool,
        existing: dict[uuid.UUID, Any],
    ) -> None:
        rid = uuid.UUID(raw["id"])
        whole = decode(spec, raw, role)
        fingerprint = _fingerprint(table, rid, whole)
        shadow = self.shadows.get(rid)
        if shadow is not None and shadow.rejected_mutation and shadow.rejected_row == fingerprint:
            self.repeats.append((table, rid, shadow.rejected_mutation, "update" if rid in existing else "create"))
            return
        changed = raw.get("_changed")
        only = set(changed.split(",")) if is_update and isinstance(changed, str) and changed else None
        fields = decode(spec, raw, role, only=None if rid not in existing else only)
        mutation = {"mutation_id": str(uuid.uuid4()), "seq": 1, "type": spec.name, "id": str(rid), "fields": fields}
        if rid in existing:
            mutation["op"] = "update"
            kind, value = self._update_base(rid, raw.get("server_version"))
            mutation["_base" if kind == "data" else "base_version"] = value
        else:
            mutation["op"] = "create"
            team = raw.get("team_id")
            if isinstance(team, int) and not isinstance(team, bool) and team > 0:  # 0: WatermelonDB's unset
                mutation["team"] = team
        self.rows.append(Row(table, spec, rid, mutation, raw, whole, fingerprint))

    def _update_base(self, rid: uuid.UUID, row_version: Any) -> tuple[str, Any]:
        """What the device held when it made this edit: ("data", values) or ("version", n)."""
        shadow = self.shadows.get(rid)
        base = _base(shadow, self.before_pull(rid, row_version)) or ("version", 1)
        if self.kept and _is_version(row_version) and shadow is not None:
            if shadow.version is not None and row_version < shadow.version and shadow.prior_data is None:
                base = ("version", row_version)  # exactly the version the edit started from
        return base

    def _add_deletes(self, table: str, spec: RecordSpec, ids: list[str], existing: dict[uuid.UUID, Any]) -> None:
        # Out of this user's scope is as unknown as never created: the answer must not tell them apart.
        visible = set(
            scoped_queryset(spec, self.user, include_deleted=True)
            .filter(pk__in=[uuid.UUID(i) for i in ids])
            .values_list("pk", flat=True)
        )
        for rid_text in ids:
            rid = uuid.UUID(rid_text)
            if rid not in visible or existing.get(rid) is not None:
                continue  # never reached the server, not this user's, or already deleted: nothing to do
            mutation = {"mutation_id": str(uuid.uuid4()), "seq": 1, "type": spec.name, "id": str(rid), "op": "delete"}
            # A delete merges nothing: it needs the version the phone last held, so that a delete of a record
            # someone else changed since becomes a conflict. Unknown: the first version (a conflict if it changed).
            mutation["base_version"] = _held_version(self.shadows.get(rid), self.before_pull(rid)) or 1
            self.rows.append(Row(table, spec, rid, mutation))


def _apply_push(plan: Plan, app_version: str, request: Any) -> dict[str, Any]:
    mutations = [row.mutation for row in plan.rows]
    results: list[dict[str, Any]] = []
    for start in range(0, len(mutations), settings.SYNC_MAX_PUSH_MUTATIONS):
        outcome = push_engine.push(
            user=plan.user,
            device=plan.device,
            protocol=push_engine.WATERMELON_PROTOCOL,
            app_version=app_version,
            mutations=mutations[start : start + settings.SYNC_MAX_PUSH_MUTATIONS],
            request=request,
            assign_seq=True,
        )
        results.extend(outcome["results"])
    records = _records_now(plan)
    rejected: dict[Any, Any] = {}
    answers: list[Any] = []
    pushed: list[Any] = []
    for row, result in zip(plan.rows, results, strict=True):
        answer = {"table": row.table, "id": str(row.rid), "op": row.mutation["op"], "status": result["status"]}
        if result["status"] == "rejected":
            rejected.setdefault(row.table, []).append(str(row.rid))
            answer.update(code=result.get("code"), fields=result.get("fields", {}))
            if row.raw is not None:
                _remember(plan.device, row.rid, row.table, rejected_row=row.fingerprint,
                          rejected_mutation=result["mutation_id"])  # fmt: skip
        elif row.raw is None:
            if row.rid in records:
                # The phone has deleted its copy; the server kept the record (a conflict or an amendment).
                _remember(plan.device, row.rid, row.table, resend="gone")
        else:
            pushed.append(_pushed_shadow(plan, row, records.get(row.rid)))
        answers.append(answer)
    WatermelonShadow.objects.bulk_create(
        pushed,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["device", "record_id"],
        update_fields=[f for f in PUSHED_FIELDS if f != "record_id"],
    )
    return {"experimentalRejectedIds": rejected, "results": answers}


def _records_now(plan: Plan) -> dict[Any, dict[str, Any]]:
    """The pushed records as the server has them after the push, as this user sees them (deleted ones left out)."""
    ids: dict[str, list[Any]] = {}
    specs: dict[str, Any] = {}
    for row in plan.rows:
        ids.setdefault(row.spec.name, []).append(row.rid)
        specs[row.spec.name] = row.spec
    records: dict[Any, Any] = {}
    for name, wanted in ids.items():
        spec = specs[name]
        for record in scoped_queryset(spec, plan.user).filter(pk__in=wanted).select_related("program"):
            records[record.pk] = encode(spec, to_wire(spec, record, plan.user, loaded=True))
    return records


PUSHED_FIELDS = ("record_id", "record_type", "data", "version", "prior_data", "prior_version", "checkpoint",
                 "resend", "rejected_row", "rejected_mutation")  # fmt: skip


def _pushed_shadow(plan: Plan, row: Row, server_raw: dict[str, Any] | None) -> WatermelonShadow:
    """What the device holds once it marks this row synced: the values it pushed.

    Never inferred from the push's status: the row as pushed is compared with the server's. When they differ
    (merged, a conflict or an amendment, a re-push after a lost answer that changed nothing, a stale
    server_version) the device's next pull sends it the server's row. Its values are the merge base of the
    device's next edit; they are a version's values only when every writable column equals the server's."""
    raw = cast(dict[str, Any], row.raw)  # a pushed row, not a deletion
    same = server_raw is not None and same_as_server(row.spec, raw, server_raw)
    version = None
    if server_raw is not None and same_as_server(row.spec, raw, server_raw, writable_only=True):
        version = server_raw["server_version"]
    return WatermelonShadow(
        device=plan.device, record_id=row.rid, record_type=row.spec.name, data=canonical_state(row.spec, row.whole),
        version=version, prior_data=None, prior_version=None,
        checkpoint=0, resend="" if same else "held", rejected_row="", rejected_mutation=None,
    )  # fmt: skip


def _answer_repeats(device: Device, repeats: list[tuple[str, uuid.UUID, Any, str]], outcome: dict[str, Any]) -> None:
    """Rows rejected before and sent again unchanged: the same answer, no second quarantine item. A rejection a
    supervisor has since replayed or dismissed is settled: the phone marks the row synced and gets the record
    as the server has it on its next pull."""
    if not repeats:
        return
    stored = {m.pk: m for m in Mutation.objects.filter(pk__in=[m for (_, _, m, _) in repeats])}
    for table, rid, mutation_id, op in repeats:
        original = stored.get(mutation_id)
        answer: dict[str, Any] = {"table": table, "id": str(rid), "op": op}
        if original is not None and original.replayed_as_id is None and original.dismissed_at is None:
            result = original.result or {}
            answer.update(status="rejected", code=result.get("code"), fields=result.get("fields", {}), repeat=True)
            outcome["experimentalRejectedIds"].setdefault(table, []).append(str(rid))
        else:
            answer["status"] = "replayed" if original is not None and original.replayed_as_id else "dismissed"
            _remember(device, rid, table, resend="held", rejected_row="", rejected_mutation=None)
        outcome["results"].append(answer)


def _remember(device: Device, rid: uuid.UUID, table: str, **values: Any) -> None:
    if values.get("resend"):
        values["checkpoint"] = 0  # not yet sent again: only a pull that sends it sets the checkpoint
    spec = specs_by_table()[table]
    WatermelonShadow.objects.update_or_create(
        device=device, record_id=rid, defaults={"record_type": spec.name, **values}
    )
