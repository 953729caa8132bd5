"""WatermelonDB's sync protocol on top of the engine (see docs/watermelondb.md).

An adapter, not a second engine: a WatermelonDB pull runs the engine's pull to the end and reshapes its
changes into `{table: {created, updated, deleted}}`; a WatermelonDB push becomes engine mutations, applied by
the engine's push with its scope checks, merge rules, conflicts, quarantine and audit.

What WatermelonDB lacks and the adapter supplies:
- `lastPulledAt` must be a positive number: it is the id of a WatermelonCheckpoint holding the engine's
  signed cursor for that device.
- Pushed rows carry no base version: the adapter keeps, per device and record, what the device last got
  (WatermelonShadow) and gives the engine that as the merge base. WatermelonDB's own rule (reject the whole
  push when a record changed after lastPulledAt) is replaced by the engine's field-level merge.
- No sequence numbers or mutation ids: the engine assigns the device's next sequence numbers.
"""

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backend.errors import DomainError
from responders import selectors

from . import pull as pull_engine
from . import push as push_engine
from .models import Change, DeviceSyncState, WatermelonCheckpoint, WatermelonShadow
from .records import canonical, parse_fields, scoped_queryset, to_wire
from .registry import ordered_specs

# Bumped when the column mapping changes incompatibly; apps compare it with the schema they ship.
SCHEMA_VERSION = 1
IGNORED = {"id", "_status", "_changed"}
RESET_MESSAGE = (
    "This device's sync position is unknown or older than the server keeps deletions for: reset the local "
    "database (database.unsafeResetDatabase()) and sync again. Unsynced local changes must be pushed first "
    "or they are lost on the device."
)


@dataclass(frozen=True)
class Column:
    name: str  # WatermelonDB column
    type: str  # string | number | boolean
    optional: bool
    source: str  # key in the engine's wire record
    kind: str = "plain"  # plain | ref | datetime | date | json | decimal
    writable: bool = True
    places: int = 0  # decimal places the server stores (decimal columns)


def table_name(spec):
    return f"{spec.name}s"


def _field_column(spec, name, writable=True):
    f = spec.model._meta.get_field(name)
    optional = f.null or name in spec.restricted
    if f.is_relation:
        # A synced record is pointed at by its UUID (a @relation); anything else (a person) by its number.
        return Column(f"{name}_id", "string" if name in spec.references else "number", True, name, "ref", writable)
    if isinstance(f, models.DateTimeField):
        return Column(name, "number", optional, name, "datetime", writable)
    if isinstance(f, models.DateField):
        return Column(name, "string", optional, name, "date", writable)
    if isinstance(f, models.BooleanField):
        return Column(name, "boolean", optional, name, "plain", writable)
    if isinstance(f, models.DecimalField):
        return Column(name, "number", optional, name, "decimal", writable, f.decimal_places)
    if isinstance(f, (models.IntegerField, models.FloatField)):
        return Column(name, "number", optional, name, "plain", writable)
    if isinstance(f, models.JSONField):
        return Column(name, "string", False, name, "json", writable)
    return Column(name, "string", optional, name, "plain", writable)


SERVER_COLUMNS = (
    Column("server_version", "number", False, "version", writable=False),
    Column("program", "string", False, "program", writable=False),
    # Optional so an app that never sets it sends null, not WatermelonDB's 0 for a number column.
    Column("team_id", "number", True, "team", writable=False),
    Column("created_by", "number", True, "created_by", writable=False),
    Column("updated_by", "number", True, "updated_by", writable=False),
    Column("created_on_device", "string", True, "created_on_device", writable=False),
    Column("app_version", "string", False, "app_version", writable=False),
    Column("form_version", "string", False, "form_version", writable=False),
    Column("device_created_at", "number", True, "device_created_at", "datetime", writable=False),
    Column("device_updated_at", "number", True, "device_updated_at", "datetime", writable=False),
    Column("server_received_at", "number", True, "server_received_at", "datetime", writable=False),
    Column("server_updated_at", "number", True, "server_updated_at", "datetime", writable=False),
    Column("is_late", "boolean", False, "is_late", writable=False),
)

_COLUMNS = {}


def columns(spec):
    cached = _COLUMNS.get(spec.name)
    if cached is None:
        cols = [_field_column(spec, name) for name in spec.policies]
        cols += list(SERVER_COLUMNS)
        for name in spec.read_only:
            col = _field_column(spec, name.removesuffix("_id") if name.endswith("_id") else name, writable=False)
            if name.endswith("_id"):  # a server-set key shown as the id it holds (reviewed_by_id)
                col = Column(name, "number", True, name, "plain", False)
            cols.append(col)
        cached = _COLUMNS[spec.name] = {c.name: c for c in cols}
    return cached


def specs_by_table():
    return {table_name(spec): spec for spec in ordered_specs()}


def schema():
    """The tables and columns an app declares with appSchema/tableSchema, generated from the record types."""
    return {
        "version": SCHEMA_VERSION,
        "tables": [
            {
                "name": table,
                "columns": [
                    {"name": c.name, "type": c.type, **({"isOptional": True} if c.optional else {})}
                    for c in columns(spec).values()
                ],
            }
            for table, spec in specs_by_table().items()
        ],
    }


# --- values ------------------------------------------------------------------------------------------------------


def _to_column(col, value):
    if value is None:
        return None
    if col.kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else value
        return round(parsed.timestamp() * 1000)
    if col.kind == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if col.kind == "decimal":
        return float(value)
    return value


def encode(spec, wire):
    raw = {"id": wire["id"]}
    for col in columns(spec).values():
        if col.source in wire:
            raw[col.name] = _to_column(col, wire[col.source])
    return raw


class ColumnError(Exception):
    def __init__(self, code, message):
        self.code, self.message = code, message


def _from_column(col, value):
    """A column value as the engine's wire form. Raises ColumnError. Returns ... for 'not given'."""
    if value is None:
        return None
    if col.kind == "ref":
        return value if value not in ("", 0) else None
    if col.kind == "datetime":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ColumnError("wrong_type", "Expected milliseconds since the epoch (a number).")
        if value == 0 and not col.optional:
            return ...  # WatermelonDB's empty number: never set on the phone, not 1970-01-01

        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise ColumnError("invalid_value", "Not a time this server can store.") from None
    if col.kind == "json":
        if value == "":
            return ...  # WatermelonDB's empty value for a column the app never set: the field's default applies
        if not isinstance(value, str):
            raise ColumnError("wrong_type", "Expected a JSON text (WatermelonDB @json column).")
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise ColumnError("invalid_json", "Not valid JSON text.") from None
        if "\\u0000" in json.dumps(parsed):
            raise ColumnError("invalid_json", "JSON text may not hold NUL characters.")
        return parsed
    if col.kind == "decimal" and isinstance(value, float) and math.isfinite(value):
        # A phone's GPS gives more decimals than the server stores (6: about 0.1 m): round, as the server would.
        try:
            return str(round(Decimal(repr(value)), col.places))
        except ArithmeticError:  # too large to round: the engine's validation rejects it as it stands
            return value
    if col.kind == "date" and value == "":
        return None
    return value


def decode(spec, raw, role, only=None):
    """A pushed raw row as engine fields. An unknown column raises ColumnError (the app's schema does not match
    this server's: nothing is applied); a bad value is left to the engine's validation, which rejects this
    record alone and keeps it in quarantine."""
    cols = columns(spec)
    fields = {}
    for key, value in raw.items():
        if key in IGNORED:
            continue
        col = cols.get(key)
        if col is None:
            raise ColumnError("unknown_column", f"{table_name(spec)}.{key} is not a column of this server's schema.")
        if not col.writable or (only is not None and key not in only):
            continue
        if col.source in spec.restricted and role not in spec.restricted[col.source]:
            continue  # hidden from this role on pull, so whatever the device holds is not a value
        try:
            converted = _from_column(col, value)
        except ColumnError:
            converted = value  # as sent: the engine's validation rejects this record with the field's error
        if converted is not ...:
            fields[col.source] = converted
    return fields


def _canonical_state(spec, fields):
    """The fields as merges compare them, or None when they do not parse (the engine rejects them anyway)."""
    try:
        values = parse_fields(spec, fields, partial=True)
    except ValidationError:
        return None
    return {name: canonical(spec, name, value) for name, value in values.items()}


# --- pull --------------------------------------------------------------------------------------------------------


def parse_last_pulled_at(value):
    if value in (None, "", "null", "undefined", "0", 0):
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise DomainError("invalid_last_pulled_at", "lastPulledAt must be a number or null.") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**62:
        raise DomainError("invalid_last_pulled_at", "lastPulledAt must be a number or null.")
    return value or None


def parse_migration(value):
    """WatermelonDB's migration sync: {from, tables, columns}. Returns the table names to send whole."""
    if value in (None, "", "null", "undefined"):
        return set()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise DomainError("invalid_migration", "migration must be JSON: null or {from, tables, columns}.") from None
    if value is None:
        return set()
    if not isinstance(value, dict) or not isinstance(value.get("tables", []), list):
        raise DomainError("invalid_migration", "migration must be null or {from, tables, columns}.")
    wanted = {t for t in value.get("tables", []) if isinstance(t, str)}
    for entry in value.get("columns", []) if isinstance(value.get("columns", []), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("table"), str):
            wanted.add(entry["table"])
    return wanted & set(specs_by_table())


def pull(*, user, device, last_pulled_at, migration_tables=(), request=None):
    checkpoint = None
    if last_pulled_at is not None:
        checkpoint = WatermelonCheckpoint.objects.filter(device=device, pk=last_pulled_at).first()
        if checkpoint is None:
            raise DomainError("reset_required", RESET_MESSAGE, status_code=410)
    first = checkpoint is None
    cursor = None if first else checkpoint.cursor

    entries, reset, removed_teams = {}, first, set()
    while True:
        try:
            page = pull_engine.pull(user=user, device=device, cursor=cursor, request=request)
        except DomainError as exc:
            if exc.code in ("cursor_expired", "invalid_cursor"):
                raise DomainError("reset_required", RESET_MESSAGE, status_code=410) from None
            raise
        reset = reset or page["reset"]
        removed_teams.update(page["removed_teams"])
        for change in page["changes"]:
            # Later pages win: the stream may bring again a record the backfill sent.
            entries[(change["type"], change["id"])] = change
        cursor = page["cursor"]
        if not page["has_more"]:
            break

    by_table = specs_by_table()
    extra = []  # sent by the adapter, beyond the engine's pull (which audited its own)
    for table in migration_tables:
        spec = by_table[table]
        for record in scoped_queryset(spec, user).select_related("program"):
            key = (spec.name, str(record.pk))
            entries[key] = {"type": spec.name, "id": key[1], "op": "upsert", "version": record.version,
                            "record": to_wire(spec, record, user, loaded=True)}  # fmt: skip
            extra.append(entries[key])

    with transaction.atomic():
        if first:
            WatermelonShadow.objects.filter(device=device).delete()
        else:
            _forget_unkept_pulls(device, checkpoint.pk)
            # The device pulls from here, so it kept what the pull that made this checkpoint sent again.
            WatermelonShadow.objects.filter(device=device, checkpoint__gt=0, checkpoint__lte=checkpoint.pk).exclude(
                resend=""
            ).update(resend="")
        if not first:
            # The device has moved past older checkpoints; the one it pulled from stays for a retry.
            WatermelonCheckpoint.objects.filter(device=device, pk__lt=checkpoint.pk).delete()
        new_checkpoint = WatermelonCheckpoint.objects.create(
            device=device, cursor=cursor, pushed_through=0 if first else checkpoint.pushed_through
        )
        gone = set()
        if not first:
            gone = _add_resends(user, device, entries, extra)
        pushed_through = 0 if first else checkpoint.pushed_through
        pending = {} if first else _withheld_deletes(device, entries, pushed_through)
        holding = dict(
            WatermelonShadow.objects.filter(
                device=device, record_id__in=[uuid.UUID(i) for (_, i) in entries]
            ).values_list("record_id", "resend")
        )
        held = {rid for rid, resend in holding.items() if resend != "gone"}
        changes = {table: {"created": [], "updated": [], "deleted": []} for table in by_table}
        delivered, dropped, withheld = [], [], {}
        for (type_name, record_id), change in entries.items():
            spec = next(s for s in by_table.values() if s.name == type_name)
            bucket = changes[table_name(spec)]
            rid = uuid.UUID(record_id)
            if change["op"] == "upsert":
                # A record the device never got is `created`; one it holds is `updated`.
                bucket["created" if first or rid not in held else "updated"].append(encode(spec, change["record"]))
                delivered.append((rid, change["version"], type_name))
            elif not first and rid not in gone:
                if change["op"] == Change.Op.DELETE and rid in held and not pending.get(rid, False):
                    # WatermelonDB destroys a record listed in `deleted` with any unsynced edit to it, before
                    # it pushes. Listed once the phone has completed a push since (such an edit is then on the
                    # server, kept in the quarantine: the record is gone), or after the grace time.
                    if rid not in pending:
                        withheld.setdefault(type_name, []).append(rid)
                    continue
                bucket["deleted"].append(record_id)
                dropped.append(rid)
        if removed_teams and not first:
            # Only what this phone holds: the ids of records it never had (made after the user left) are not
            # its business.
            held_ids = WatermelonShadow.objects.filter(device=device).exclude(resend="gone").values("record_id")
            for spec in by_table.values():
                ids = spec.model._base_manager.filter(team_id__in=removed_teams, pk__in=held_ids).values_list(
                    "pk", flat=True
                )
                gone_now = [str(i) for i in ids if str(i) not in changes[table_name(spec)]["deleted"]]
                changes[table_name(spec)]["deleted"].extend(gone_now)
                dropped.extend(uuid.UUID(i) for i in gone_now)
        _remember_pulled(device, new_checkpoint.pk, delivered, pushed_through)
        for type_name, ids in withheld.items():
            WatermelonShadow.objects.filter(device=device, record_id__in=ids).update(
                delete_withheld_at=new_checkpoint.pk, delete_withheld_since=timezone.now(), record_type=type_name
            )
        if extra:
            pull_engine.audit_pull(user, device, extra, request)
        if dropped or gone:
            WatermelonShadow.objects.filter(device=device, record_id__in=[*dropped, *gone]).exclude(
                record_id__in=[d[0] for d in delivered]
            ).delete()

    body = {"changes": changes, "timestamp": new_checkpoint.pk}
    if reset and not first:
        # The visible fields changed (a new role): the device's copy is replaced, not patched.
        body["experimentalStrategy"] = "replacement"
    return body


def _forget_unkept_pulls(device, last_pulled_at):
    """A device pulling from an older checkpoint did not keep the later pulls: what they delivered it never
    held, so its shadows go back to what it held before them."""
    later = WatermelonShadow.objects.filter(device=device, checkpoint__gt=last_pulled_at)
    # Records those pulls brought first: the device never held them (the next pull sends them as created).
    later.filter(prior_version__isnull=True, prior_data__isnull=True, resend="", rejected_row="").delete()
    later.update(version=models.F("prior_version"), data=models.F("prior_data"), checkpoint=0)


def _withheld_deletes(device, entries, pushed_through):
    """Deletions held back from this device: {record id: whether to list it now}. One held back and not in this
    pull's changes is added to them, to be listed or held back again."""
    grace = timezone.now() - timedelta(hours=settings.SYNC_WATERMELON_DELETE_GRACE_HOURS)
    pending = {}
    rows = WatermelonShadow.objects.filter(device=device, delete_withheld_at__isnull=False).values_list(
        "record_id", "record_type", "delete_withheld_at", "delete_withheld_since"
    )
    for record_id, type_name, at, since in rows:
        # A completed push from a pull at or after the one that held it back carried every edit made before.
        pending[record_id] = pushed_through >= at or since < grace
        key = (type_name, str(record_id))
        entries.setdefault(key, {"type": type_name, "id": key[1], "op": Change.Op.DELETE, "version": None})
    return pending


def _add_resends(user, device, entries, extra):
    """Records whose copy on the device the server did not take (see WatermelonShadow.resend) go into this pull
    as the server has them: upserted when this user may see them, else deleted from the device. Returns the
    ids the device has already deleted and the server no longer shows it (nothing to send)."""
    pending = {}
    waiting = WatermelonShadow.objects.filter(device=device).exclude(resend="")
    for record_id, type_name, resend in waiting.values_list("record_id", "record_type", "resend"):
        pending.setdefault(type_name, {})[record_id] = resend
    gone = set()
    for type_name, ids in pending.items():
        spec = next((s for s in ordered_specs() if s.name == type_name), None)
        if spec is None:
            continue
        visible = {r.pk: r for r in scoped_queryset(spec, user).filter(pk__in=list(ids)).select_related("program")}
        for record_id, resend in ids.items():
            key = (type_name, str(record_id))
            record = visible.get(record_id)
            if record is not None and key not in entries:
                entries[key] = {"type": type_name, "id": key[1], "op": "upsert", "version": record.version,
                                "record": to_wire(spec, record, user, loaded=True)}  # fmt: skip
                extra.append(entries[key])
            elif resend == "held":
                entries.setdefault(key, {"type": type_name, "id": key[1], "op": "delete", "version": None})
            else:
                gone.add(record_id)
    return gone


def _db_uuid(value):
    return WatermelonShadow._meta.get_field("record_id").get_db_prep_value(value, connection)


def _remember_pulled(device, checkpoint_id, delivered, pushed_through=0):
    """Upsert what this pull delivered, keeping what the device held before it as the prior state.

    While the device has completed no push since it got the version it holds (that pull's checkpoint is past
    `pushed_through`), an unsynced edit may be older than that version: the prior state stays the oldest one
    since the device's last completed push, so a merge against it errs towards a conflict record."""
    if not delivered:
        return
    table = WatermelonShadow._meta.db_table
    keep_prior = f"({table}.checkpoint > %s AND ({table}.prior_version IS NOT NULL OR {table}.prior_data IS NOT NULL))"
    with connection.cursor() as cursor:
        for start in range(0, len(delivered), 1000):
            chunk = delivered[start : start + 1000]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, '', '')"] * len(chunk))
            params = []
            for record_id, version, type_name in chunk:
                params += [_db_uuid(device.pk), _db_uuid(record_id), version, checkpoint_id, type_name]
            cursor.execute(
                # The table name comes from the model; every value goes as a parameter.
                f"INSERT INTO {table} (device_id, record_id, version, checkpoint, record_type, resend, "  # noqa: S608
                f"rejected_row) VALUES {placeholders} "
                f"ON CONFLICT (device_id, record_id) DO UPDATE SET "
                f"prior_version = CASE WHEN {keep_prior} THEN {table}.prior_version ELSE {table}.version END, "
                f"prior_data = CASE WHEN {keep_prior} THEN {table}.prior_data ELSE {table}.data END, "
                f"version = EXCLUDED.version, data = NULL, checkpoint = EXCLUDED.checkpoint, "
                f"record_type = EXCLUDED.record_type, delete_withheld_at = NULL, delete_withheld_since = NULL",
                [*params, pushed_through, pushed_through],
            )


# --- push --------------------------------------------------------------------------------------------------------


def _changes_shape(changes):
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
    seen = set()
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


def _edited_before_pull(shadow, last_pulled_at, pushed_through, row_version=None, kept=False):
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
        return row_version < shadow.version
    if last_pulled_at is None:
        return False
    return bool(shadow.rejected_row) or pushed_through < shadow.checkpoint


def _is_version(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**31


def _base(shadow, before_pull):
    """What the device held when it made its edit: ("data", values) or ("version", n); None if unknown."""
    if shadow is None:
        return None
    version, data = (shadow.prior_version, shadow.prior_data) if before_pull else (shadow.version, shadow.data)
    if data is not None:
        return ("data", data)
    if version is not None:
        return ("version", version)
    return None


def _held_version(shadow, before_pull):
    if shadow is None:
        return None
    return shadow.prior_version if before_pull else shadow.version


def _fingerprint(table, rid, fields):
    text = json.dumps([table, str(rid), fields], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def push(**kwargs):
    """A WatermelonDB push, under the device's sync lock from the start: what the merge bases and repeat
    answers are read from (shadows, checkpoints) cannot change under it by another push of the same device."""
    with transaction.atomic():
        DeviceSyncState.objects.select_for_update().get_or_create(device=kwargs["device"])
        return _push(**kwargs)


def _push(*, user, device, changes, last_pulled_at, app_version="", request=None, kept_server_version=False):
    by_table = _changes_shape(changes)
    total = sum(len(p.get(k, [])) for p in changes.values() for k in ("created", "updated", "deleted"))
    if total > settings.SYNC_WATERMELON_MAX_PUSH_RECORDS:
        raise DomainError(
            "batch_too_large",
            f"Push at most {settings.SYNC_WATERMELON_MAX_PUSH_RECORDS} records at a time.",
            status_code=413,
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
    roles = {m.program.code: m.role for m in selectors.memberships_for(user)}
    ids = {
        rid
        for part in changes.values()
        for rid in [uuid.UUID(r["id"]) for r in [*part.get("created", []), *part.get("updated", [])]]
        + [uuid.UUID(i) for i in part.get("deleted", [])]
    }
    shadows = {s.record_id: s for s in WatermelonShadow.objects.filter(device=device, record_id__in=ids)}
    pushed_through = 0
    if last_pulled_at is not None:
        pushed_through = (
            WatermelonCheckpoint.objects.filter(device=device, pk=last_pulled_at)
            .values_list("pushed_through", flat=True)
            .first()
        ) or 0

    def before_pull(rid, row_version=None):
        return _edited_before_pull(shadows.get(rid), last_pulled_at, pushed_through, row_version, kept_server_version)

    mutations, states, order, repeats = [], {}, [], []
    for table, spec in by_table.items():  # parents before children: incidents before their scene responses
        part = changes.get(table)
        if not part:
            continue
        role = roles.get(next(iter(spec.programs)))
        rows = [(r, False) for r in part.get("created", [])] + [(r, True) for r in part.get("updated", [])]
        wanted = [uuid.UUID(r["id"]) for r, _ in rows] + [uuid.UUID(i) for i in part.get("deleted", [])]
        existing = dict(spec.model._base_manager.filter(pk__in=wanted).values_list("pk", "deleted_at"))
        for raw, is_update in rows:
            rid = uuid.UUID(raw["id"])
            whole = decode(spec, raw, role)
            fingerprint = _fingerprint(table, rid, whole)
            shadow = shadows.get(rid)
            if shadow is not None and shadow.rejected_mutation and shadow.rejected_row == fingerprint:
                repeats.append((table, rid, shadow.rejected_mutation, "update" if rid in existing else "create"))
                continue
            changed = raw.get("_changed")
            only = set(changed.split(",")) if is_update and isinstance(changed, str) and changed else None
            fields = decode(spec, raw, role, only=None if rid not in existing else only)
            mutation = {"mutation_id": str(uuid.uuid4()), "seq": 1, "type": spec.name, "id": str(rid), "fields": fields}
            if rid in existing:
                mutation["op"] = "update"
                row_version = raw.get("server_version")
                base = _base(shadow, before_pull(rid, row_version)) or ("version", 1)
                if kept_server_version and _is_version(row_version) and shadow is not None:
                    if shadow.version is not None and row_version < shadow.version and shadow.prior_data is None:
                        base = ("version", row_version)  # exactly the version the edit started from
                if base[0] == "data":
                    mutation["_base"] = base[1]
                else:
                    mutation["base_version"] = base[1]
            else:
                mutation["op"] = "create"
                team = raw.get("team_id")
                if isinstance(team, int) and not isinstance(team, bool) and team > 0:  # 0: WatermelonDB's unset
                    mutation["team"] = team
            states[rid] = (_canonical_state(spec, whole), fingerprint)
            mutations.append(mutation)
            order.append((table, rid))
        if part.get("deleted"):
            # Out of this user's scope is as unknown as never created: the answer must not tell them apart.
            visible = set(
                scoped_queryset(spec, user, include_deleted=True)
                .filter(pk__in=[uuid.UUID(i) for i in part["deleted"]])
                .values_list("pk", flat=True)
            )
        for rid_text in part.get("deleted", []):
            rid = uuid.UUID(rid_text)
            if rid not in visible or existing.get(rid) is not None:
                continue  # never reached the server, not this user's, or already deleted: nothing to do
            mutation = {"mutation_id": str(uuid.uuid4()), "seq": 1, "type": spec.name, "id": str(rid), "op": "delete"}
            # A delete merges nothing: it needs the version the phone last held, so that a delete of a record
            # someone else changed since becomes a conflict. Unknown: the first version (a conflict if it changed).
            mutation["base_version"] = _held_version(shadows.get(rid), before_pull(rid)) or 1
            mutations.append(mutation)
            order.append((table, rid))

    with transaction.atomic():  # all of the push and the shadows, or none: a retry must not merge twice
        outcome = _apply_push(device, user, mutations, order, states, app_version, request)
        _answer_repeats(device, repeats, outcome)
        if last_pulled_at is not None:
            # Every local change the device had when it pulled at last_pulled_at is now settled (applied, merged,
            # kept as a conflict, or rejected and remembered): later edits start from what that pull brought.
            WatermelonCheckpoint.objects.filter(device=device, pk=last_pulled_at).update(pushed_through=last_pulled_at)
        return outcome


def _apply_push(device, user, mutations, order, states, app_version, request):
    results = []
    for start in range(0, len(mutations), settings.SYNC_MAX_PUSH_MUTATIONS):
        batch = mutations[start : start + settings.SYNC_MAX_PUSH_MUTATIONS]
        outcome = push_engine.push(
            user=user,
            device=device,
            protocol=push_engine.WATERMELON_PROTOCOL,
            app_version=app_version,
            mutations=batch,
            request=request,
            assign_seq=True,
        )
        results.extend(outcome["results"])

    rejected, answers, keep = {}, [], []
    for (table, rid), mutation, result in zip(order, mutations, results, strict=True):
        answer = {"table": table, "id": str(rid), "op": mutation["op"], "status": result["status"]}
        state, fingerprint = states.get(rid, (None, ""))
        if result["status"] == "rejected":
            rejected.setdefault(table, []).append(str(rid))
            answer.update(code=result.get("code"), fields=result.get("fields", {}))
            if mutation["op"] != "delete":
                _remember(device, rid, table, rejected_row=fingerprint, rejected_mutation=result["mutation_id"])
        elif mutation["op"] == "delete":
            if result["status"] not in ("applied", "unchanged"):
                # The phone has deleted its copy; the server kept the record (a conflict or an amendment).
                _remember(device, rid, table, resend="gone")
        elif state is not None:
            # Applied as sent: the phone holds that version. Otherwise it holds values of no version the server
            # wrote: only its values are known, and the next pull sends it the record as the server has it.
            taken = result["status"] in ("applied", "unchanged", "merged")
            held = result.get("version") if result["status"] in ("applied", "unchanged") else None
            keep.append((rid, table, state, held, "" if taken else "held"))
        answers.append(answer)
    for rid, table, data, version, resend in keep:
        _remember(
            device, rid, table, data=data, version=version, prior_data=None, prior_version=None, checkpoint=0,
            resend=resend, rejected_row="", rejected_mutation=None,
        )  # fmt: skip
    return {"experimentalRejectedIds": rejected, "results": answers}


def _answer_repeats(device, repeats, outcome):
    """Rows rejected before and sent again unchanged: the same answer, no second quarantine item. A rejection a
    supervisor has since replayed or dismissed is settled: the phone marks the row synced and gets the record
    as the server has it on its next pull."""
    if not repeats:
        return
    from .models import Mutation

    stored = {m.pk: m for m in Mutation.objects.filter(pk__in=[m for (_, _, m, _) in repeats])}
    for table, rid, mutation_id, op in repeats:
        original = stored.get(mutation_id)
        answer = {"table": table, "id": str(rid), "op": op}
        if original is not None and original.replayed_as_id is None and original.dismissed_at is None:
            result = original.result or {}
            answer.update(status="rejected", code=result.get("code"), fields=result.get("fields", {}), repeat=True)
            outcome["experimentalRejectedIds"].setdefault(table, []).append(str(rid))
        else:
            answer["status"] = "replayed" if original is not None and original.replayed_as_id else "dismissed"
            _remember(device, rid, table, resend="held", rejected_row="", rejected_mutation=None)
        outcome["results"].append(answer)


def _remember(device, rid, table, **values):
    if values.get("resend"):
        values["checkpoint"] = 0  # not yet sent again: only a pull that sends it sets the checkpoint
    spec = specs_by_table()[table]
    WatermelonShadow.objects.update_or_create(
        device=device, record_id=rid, defaults={"record_type": spec.name, **values}
    )
