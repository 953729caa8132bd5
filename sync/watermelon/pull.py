"""WatermelonDB's pullChanges on top of the engine's pull (docs/watermelondb.md, "Pull").

A pull runs the engine's pull from the cursor kept for the device's `lastPulledAt` and reshapes its changes into
`{table: {created, updated, deleted}}`, in bounded answers: when more is waiting the answer says `has_more` and
the app calls synchronize() again. What the device holds of each record (WatermelonShadow) decides the bucket:
a record it never got is `created`, one it holds is `updated`.
"""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.errors import DomainError, Gone
from records.access import scoped_queryset
from records.models import Change
from records.registry import RecordSpec, ordered_specs
from records.wire import to_wire
from sync.models import DeviceSyncState, WatermelonCheckpoint, WatermelonShadow

from .. import pull as pull_engine
from .mapping import encode, specs_by_table, table_name

RESET_MESSAGE = (
    "This device's sync position is unknown or older than the server keeps deletions for: reset the local "
    "database (database.unsafeResetDatabase()) and sync again. Unsynced local changes must be pushed first "
    "or they are lost on the device."
)


def parse_last_pulled_at(value: Any) -> int | None:
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


def parse_migration(value: Any) -> set[str]:
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


@dataclass
class Read:
    """What the engine's pull brought for one WatermelonDB answer."""

    entries: dict[tuple[str, str], dict[str, Any]]  # (type name, id) -> engine change; later pages win
    cursor: str | None
    reset: bool
    removed_teams: set[int]
    has_more: bool
    # Sent by the adapter beyond the engine's pull (audited here).
    extra: list[dict[str, Any]] = field(default_factory=list)


def pull(
    *,
    user: Any,
    device: Any,
    last_pulled_at: int | None,
    migration_tables: Iterable[str] = (),
    request: Any = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """One WatermelonDB answer: {changes, timestamp[, has_more][, experimentalStrategy]}."""
    checkpoint = _checkpoint(device, last_pulled_at)
    first = checkpoint is None
    limit = limit or page_size()
    read = _read_engine(user, device, None if checkpoint is None else checkpoint.cursor, request, limit)
    _add_migration_tables(user, migration_tables, read)
    with transaction.atomic():
        # The device's sync lock, as a push takes it: two pulls of one device (overlapping synchronize() calls)
        # or a pull and a push never rewrite its shadows at the same time.
        DeviceSyncState.objects.select_for_update().get_or_create(device=device)
        if checkpoint is None:
            WatermelonShadow.objects.filter(device=device).delete()
        else:
            _settle_earlier_pulls(device, checkpoint)
        pushed_through = 0 if checkpoint is None else checkpoint.pushed_through
        new_checkpoint = WatermelonCheckpoint.objects.create(
            device=device, cursor=cast(str, read.cursor), pushed_through=pushed_through  # set by every engine page
        )
        answer = Answer(device, new_checkpoint.pk, first, None if checkpoint is None else checkpoint.pk)
        if checkpoint is not None:
            # A replacement answer holds everything (WatermelonDB destroys what it leaves out).
            room = float("inf") if read.reset else limit - len(read.entries)
            answer.resends = _add_resends(user, device, read, checkpoint.pk, room)
            answer.pending = _withheld_deletes(device, read.entries, pushed_through)
        answer.sort(read.entries)
        if read.removed_teams and not first:
            answer.drop_removed_teams(read.removed_teams)
        answer.remember(pushed_through)
        if read.extra:
            pull_engine.audit_pull(user, device, read.extra, request)

    body = {"changes": answer.changes, "timestamp": new_checkpoint.pk}
    if read.has_more:
        body["has_more"] = True
    if read.reset and not first:
        # The visible fields changed (a new role): the device's copy is replaced, not patched.
        body["experimentalStrategy"] = "replacement"
    return body


def page_size() -> int:
    size: int = settings.SYNC_WATERMELON_PULL_PAGE
    return max(1, size)


def _checkpoint(device: Any, last_pulled_at: int | None) -> WatermelonCheckpoint | None:
    if last_pulled_at is None:
        return None
    checkpoint = WatermelonCheckpoint.objects.filter(device=device, pk=last_pulled_at).first()
    if checkpoint is None:
        raise Gone("reset_required", RESET_MESSAGE)
    return checkpoint


def _read_engine(user: Any, device: Any, cursor: str | None, request: Any, limit: int) -> Read:
    """Engine pages until `limit` changes are gathered or nothing more waits. A replacement (the role changed)
    is read to the end: WatermelonDB destroys every record a replacement answer leaves out."""
    read = Read(entries={}, cursor=cursor, reset=False, removed_teams=set(), has_more=False)
    while True:
        want = settings.SYNC_MAX_PULL_PAGE if read.reset else limit - len(read.entries)
        try:
            page = pull_engine.pull(user=user, device=device, cursor=read.cursor, request=request, limit=want)
        except DomainError as exc:
            if exc.code in ("cursor_expired", "invalid_cursor"):
                raise Gone("reset_required", RESET_MESSAGE) from None
            raise
        read.reset = read.reset or (page["reset"] and cursor is not None)
        read.removed_teams.update(page["removed_teams"])
        for change in page["changes"]:
            # Later pages win: the stream may bring again a record the backfill sent.
            read.entries[(change["type"], change["id"])] = change
        read.cursor = page["cursor"]
        read.has_more = page["has_more"]
        if not read.has_more or (len(read.entries) >= limit and not read.reset):
            return read


def _upsert(spec: RecordSpec, record: Any, user: Any) -> dict[str, Any]:
    return {"type": spec.name, "id": str(record.pk), "op": "upsert", "version": record.version,
            "record": to_wire(spec, record, user, loaded=True)}  # fmt: skip


def _add_migration_tables(user: Any, migration_tables: Iterable[str], read: Read) -> None:
    """WatermelonDB's migration sync: the tables an app upgrade added, sent whole."""
    by_table = specs_by_table()
    for table in migration_tables:
        spec = by_table[table]
        for record in scoped_queryset(spec, user).select_related("program"):
            change = read.entries[(spec.name, str(record.pk))] = _upsert(spec, record, user)
            read.extra.append(change)


def _settle_earlier_pulls(device: Any, checkpoint: WatermelonCheckpoint) -> None:
    """The device pulls from `checkpoint`: it kept the pull that made it, and none after it."""
    _forget_unkept_pulls(device, checkpoint.pk)
    # It kept what the pull that made this checkpoint sent again.
    WatermelonShadow.objects.filter(
        device=device, checkpoint__gt=0, checkpoint__lte=checkpoint.pk, resend__in=("held", "back")
    ).update(resend="")
    # It has moved past older checkpoints; the one it pulled from stays for a retry.
    WatermelonCheckpoint.objects.filter(device=device, pk__lt=checkpoint.pk).delete()


def _forget_unkept_pulls(device: Any, last_pulled_at: int) -> None:
    """A device pulling from an older checkpoint did not keep the later pulls, or it is running two
    synchronize() calls at once and will keep a later one and abort this one (WatermelonDB checks only when it
    applies an answer). The shadows those pulls wrote are left as they are, so that either way the device's next
    pull finds them: a record a later pull brought first is sent in `created` again (see Answer._held), one it
    brought over a version the device held keeps that version as its prior state (the merge base of an edit
    made before it), and _remember_pulled overwrites both when this pull brings them again.

    One exception: a record a later pull sent back after a refused delete is listed as deleted again, then sent
    back, which is right whether or not the device holds it."""
    later = WatermelonShadow.objects.filter(device=device, checkpoint__gt=last_pulled_at)
    later.filter(resend="back").update(resend="gone", checkpoint=0)


def _withheld_deletes(
    device: Any, entries: dict[tuple[str, str], dict[str, Any]], pushed_through: int
) -> dict[uuid.UUID, bool]:
    """Deletions held back from this device: {record id: whether to list it now}. One held back and not in this
    pull's changes is added to them, to be listed or held back again."""
    grace = timezone.now() - timedelta(hours=settings.SYNC_WATERMELON_DELETE_GRACE_HOURS)
    pending = {}
    rows = WatermelonShadow.objects.filter(device=device, delete_withheld_at__isnull=False).values_list(
        "record_id", "record_type", "delete_withheld_at", "delete_withheld_since"
    )
    for record_id, type_name, at, since in rows:
        # A completed push from a pull at or after the one that held it back carried every edit made before.
        pending[record_id] = pushed_through >= at or since < grace  # type: ignore[operator]  # set together
        key = (type_name, str(record_id))
        entries.setdefault(key, {"type": type_name, "id": key[1], "op": Change.Op.DELETE, "version": None})
    return pending


@dataclass
class Resends:
    """Records whose copy on the device the server did not take (WatermelonShadow.resend), for this pull."""

    relist: set[uuid.UUID] = field(default_factory=set)  # listed in `deleted` now (the device may hold them as deleted)
    back: set[uuid.UUID] = field(default_factory=set)  # sent in `created` now (the device has dropped them)


def _add_resends(user: Any, device: Any, read: Read, pulled_from: int, room: float) -> Resends:
    """Put the records to send again into this pull's entries, at most `room` of them (the others wait for the
    next answer, which `has_more` asks for).

    - "held": the device holds values the server did not take: the record as the server has it, in `updated`
      (or `deleted` when this user may no longer see it).
    - "gone": the device deleted the record and the server kept it. The push's answer may have been lost, so the
      device may still hold it marked as deleted: WatermelonDB would then log "already exists locally and is
      marked as deleted" for a `created` row. So it is first listed in `deleted` (which removes it either way),
      and once the device pulls from that pull's checkpoint it is sent back in `created`.
    """
    resends = Resends()
    for spec, ids in _waiting(device):
        visible = {r.pk: r for r in scoped_queryset(spec, user).filter(pk__in=list(ids)).select_related("program")}
        for record_id, (resend, checkpoint) in ids.items():
            key, record = (spec.name, str(record_id)), visible.get(record_id)
            action = _resend_action(resend, checkpoint, record, pulled_from)
            if action in ("send", "back") and key not in read.entries:
                if room <= 0:
                    read.has_more = True
                    continue
                read.entries[key] = _upsert(spec, record, user)
                read.extra.append(read.entries[key])
                room -= 1
            if action == "back":
                resends.back.add(record_id)
            elif action == "relist":
                resends.relist.add(record_id)
                read.entries[key] = {"type": spec.name, "id": key[1], "op": Change.Op.DELETE, "version": None}
            elif action == "delete":
                read.entries.setdefault(key, {"type": spec.name, "id": key[1], "op": Change.Op.DELETE, "version": None})
    return resends


def _waiting(device: Any) -> list[tuple[RecordSpec, dict[uuid.UUID, tuple[str, int]]]]:
    """[(spec, {record id: (resend, checkpoint)})] of the device's records to send again, in a stable order."""
    waiting: dict[Any, Any] = {}
    rows = WatermelonShadow.objects.filter(device=device).exclude(resend__in=("", "back")).order_by("id")
    for record_id, type_name, resend, checkpoint in rows.values_list(
        "record_id", "record_type", "resend", "checkpoint"
    ):
        waiting.setdefault(type_name, {})[record_id] = (resend, checkpoint)
    specs = {s.name: s for s in ordered_specs()}
    return [(specs[name], ids) for name, ids in waiting.items() if name in specs]


def _resend_action(resend: str, checkpoint: int, record: Any, pulled_from: int) -> str:
    """send: the record in this answer; back: the same, in `created`; relist: its id in `deleted`, to be sent
    back later; delete: its id in `deleted`, nothing more (this user may no longer see it)."""
    if record is None:
        return "delete"
    if resend != "gone":
        return "send"
    # The device kept the pull that listed it (0: not listed yet, or by a pull it did not keep).
    return "back" if 0 < checkpoint <= pulled_from else "relist"


class Answer:
    """The changes object of one pull, and what it tells about the device's shadows."""

    def __init__(self, device: Any, checkpoint_id: int, first: bool, pulled_from: int | None) -> None:
        self.device, self.checkpoint_id, self.first, self.pulled_from = device, checkpoint_id, first, pulled_from
        self.by_table = specs_by_table()
        self.by_type = {spec.name: spec for spec in self.by_table.values()}
        self.changes: dict[str, dict[str, list[Any]]] = {
            table: {"created": [], "updated": [], "deleted": []} for table in self.by_table
        }
        self.resends, self.pending = Resends(), dict[uuid.UUID, bool]()
        self.delivered: list[tuple[uuid.UUID, int, str]] = []
        self.dropped: list[uuid.UUID] = []
        self.withheld: dict[str, list[uuid.UUID]] = {}

    def sort(self, entries: dict[tuple[str, str], dict[str, Any]]) -> None:
        held = self._held(entries)
        for (type_name, record_id), change in entries.items():
            spec = self.by_type[type_name]
            bucket = self.changes[table_name(spec)]
            rid = uuid.UUID(record_id)
            if change["op"] == "upsert":
                # A record the device never got (or has dropped) is `created`; one it holds is `updated`.
                bucket["created" if rid not in held else "updated"].append(encode(spec, change["record"]))
                self.delivered.append((rid, change["version"], type_name))
            elif not self.first:
                if change["op"] == Change.Op.DELETE and rid in held and not self.pending.get(rid, False):
                    # WatermelonDB destroys a record listed in `deleted` with any unsynced edit to it, before
                    # it pushes. Listed once the phone has completed a push since (such an edit is then on the
                    # server, kept in the quarantine: the record is gone), or after the grace time.
                    if rid not in self.pending:
                        self.withheld.setdefault(type_name, []).append(rid)
                    continue
                bucket["deleted"].append(record_id)
                self.dropped.append(rid)

    def _held(self, entries: dict[tuple[str, str], dict[str, Any]]) -> set[uuid.UUID]:
        """The records of these entries the device holds (not deleted, not dropped after a refused delete)."""
        if self.first:
            return set()
        ids = [uuid.UUID(i) for (_, i) in entries]
        holding = WatermelonShadow.objects.filter(device=self.device, record_id__in=ids).exclude(resend="gone")
        # Brought first by a pull after the one the device pulls from: it may not hold it (see
        # _forget_unkept_pulls).
        holding = holding.exclude(
            checkpoint__gt=self.pulled_from, prior_version__isnull=True, prior_data__isnull=True, resend="",
            rejected_row="",
        )  # fmt: skip
        return set(holding.values_list("record_id", flat=True)) - self.resends.back

    def drop_removed_teams(self, removed_teams: set[int]) -> None:
        # Only what this phone holds: the ids of records it never had (made after the user left) are not its
        # business.
        held_ids = WatermelonShadow.objects.filter(device=self.device).exclude(resend="gone").values("record_id")
        for spec in self.by_table.values():
            deleted = self.changes[table_name(spec)]["deleted"]
            ids = spec.model._base_manager.filter(team_id__in=removed_teams, pk__in=held_ids).values_list(
                "pk", flat=True
            )
            gone_now = [str(i) for i in ids if str(i) not in deleted]
            deleted.extend(gone_now)
            self.dropped.extend(uuid.UUID(i) for i in gone_now)

    def remember(self, pushed_through: int) -> None:
        """What the device holds once it has applied this answer."""
        device, checkpoint_id = self.device, self.checkpoint_id
        _remember_pulled(device, checkpoint_id, self.delivered, pushed_through)
        if self.resends.back:
            # Sent whole to a device that had dropped it: nothing it held before is a merge base.
            WatermelonShadow.objects.filter(device=device, record_id__in=self.resends.back).update(
                resend="back", prior_version=None, prior_data=None
            )
        if self.resends.relist:
            WatermelonShadow.objects.filter(device=device, record_id__in=self.resends.relist).update(
                checkpoint=checkpoint_id
            )
        for type_name, ids in self.withheld.items():
            WatermelonShadow.objects.filter(device=device, record_id__in=ids).update(
                delete_withheld_at=checkpoint_id, delete_withheld_since=timezone.now(), record_type=type_name
            )
        delivered = {d[0] for d in self.delivered}
        forget = [rid for rid in self.dropped if rid not in delivered and rid not in self.resends.relist]
        if forget:
            WatermelonShadow.objects.filter(device=device, record_id__in=forget).delete()


def _db_uuid(value: Any) -> Any:
    return WatermelonShadow._meta.get_field("record_id").get_db_prep_value(value, connection)


def _remember_pulled(
    device: Any, checkpoint_id: int, delivered: list[tuple[uuid.UUID, int, str]], pushed_through: int = 0
) -> None:
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
