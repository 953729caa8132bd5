"""Pull: what changed in the caller's scope since their cursor, in pages, never skipping a commit.

The cursor is opaque to clients and signed (tamper-proof). It carries:
  pos    (txid, id): every change at or before it was delivered;
  teams  the teams the device was synced for, and the scope fingerprint;
  fill   a backfill in progress: teams to send whole, and where it stands.

A first pull is a backfill of every team in scope. When the scope grows,
the new teams are backfilled; when it shrinks, the response names the teams
to drop (`removed_teams`); when the role changes (so visible fields change)
everything is sent again. Records that leave a team the device keeps appear
as `remove` changes.
"""

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from backend.errors import DomainError, Gone
from records.models import Change
from records.registry import get_spec, ordered_specs
from records.wire_rows import WireRow, wire_rows
from responders import selectors
from sync.changes import MAX_ID, held_back, horizon, logger, read_changes, stable_horizon
from sync.models import DeviceSyncState, SyncHorizon

Page = dict[str, Any]  # one answer: changes, removed_teams, reset, cursor, has_more, behind, server_time

CURSOR_SALT = "sync.pull.cursor"
CURSOR_VERSION = 1


def encode_cursor(data: dict[str, Any]) -> str:
    return signing.dumps(data, key=settings.SYNC_CURSOR_KEY, salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str | None, user: Any, device: Any) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        data = signing.loads(token, key=settings.SYNC_CURSOR_KEY, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise DomainError("invalid_cursor", "The cursor is not one this server issued; pull without one.") from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise DomainError("invalid_cursor", "The cursor is from another protocol version; pull without one.")
    if data.get("u") != user.pk or data.get("d") != str(device.pk):
        raise DomainError("invalid_cursor", "This cursor belongs to another user or device.")
    return data


def purge_horizon() -> int:
    row = SyncHorizon.objects.filter(pk=1).first()
    return row.purged_below_txid if row else 0


def pull(*, user: Any, device: Any, cursor: str | None = None, limit: int | None = None, request: Any = None) -> Page:
    limit = max(1, min(limit or settings.SYNC_MAX_PULL_PAGE, settings.SYNC_MAX_PULL_PAGE))
    state = decode_cursor(cursor, user, device)
    teams_now = sorted(selectors.readable_team_ids(user))
    fingerprint = selectors.scope_fingerprint(user)

    removed_teams, reset = [], False
    if state is None:
        # First sync: everything in scope, then changes from where the backfill began.
        state = _fresh_state(user, device, teams_now, fingerprint)
        reset = True
    else:
        if state["p"][0] < purge_horizon():
            raise Gone(
                "cursor_expired",
                "Deleted records older than this cursor have been purged; discard local data and pull from scratch.",
            )
        if state["f"] != fingerprint:
            # A role changed, so which fields are visible may have changed: send everything again.
            removed_teams = sorted(set(state["t"]) - set(teams_now))
            state = _fresh_state(user, device, teams_now, fingerprint)
            reset = True
        else:
            removed_teams = sorted(set(state["t"]) - set(teams_now))
            added = sorted(set(teams_now) - set(state["t"]))
            if added:
                fill = state.get("b") or {"teams": [], "spec": 0, "after": None}
                fill["teams"] = sorted(set(fill["teams"]) | set(added))
                state["b"] = fill
            state["t"] = teams_now
            if state.get("b"):
                state["b"]["teams"] = [t for t in state["b"]["teams"] if t in teams_now]

    changes: list[dict[str, Any]]
    changes, has_more, behind = [], False, False
    if state.get("b"):
        changes, state["b"] = _backfill(user, state["b"], limit)
        has_more = state["b"] is not None
    if not has_more and len(changes) < limit:
        more, state["p"], has_more, behind = _stream(user, teams_now, state["p"], limit - len(changes))
        # The stream may repeat a record the backfill just sent (it resumes from where the backfill began).
        sent = {(c["type"], c["id"]) for c in changes}
        changes.extend(c for c in more if (c["type"], c["id"]) not in sent)
    elif len(changes) >= limit:
        has_more = True

    DeviceSyncState.objects.update_or_create(device=device, defaults={"last_pull_at": timezone.now()})
    audit_pull(user, device, changes, request)
    answer = {
        "changes": changes,
        "removed_teams": removed_teams,
        "reset": reset,
        "cursor": encode_cursor(state),
        "has_more": has_more,
        "behind": behind,
        "server_time": timezone.now().isoformat(),
    }
    if behind:
        answer["retry_after"] = settings.SYNC_PULL_BEHIND_RETRY_SECONDS
    return answer


def _fresh_state(user: Any, device: Any, teams: list[int], fingerprint: Any) -> dict[str, Any]:
    # Every change below the stable horizon is covered by the backfill that follows; the stream resumes there.
    below = stable_horizon()
    return {
        "v": CURSOR_VERSION,
        "u": user.pk,
        "d": str(device.pk),
        "p": [below - 1, MAX_ID],
        "t": teams,
        "f": fingerprint,
        "b": {"teams": teams, "spec": 0, "after": None} if teams else None,
    }


def _backfill(
    user: Any, fill: dict[str, Any], limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Current state of the backfill teams, type by type, in id order."""
    changes: list[dict[str, Any]] = []
    specs = ordered_specs()
    while fill["spec"] < len(specs) and len(changes) < limit:
        spec = specs[fill["spec"]]
        qs = spec.model._default_manager.filter(team_id__in=fill["teams"], deleted_at__isnull=True)
        if fill["after"]:
            qs = qs.filter(pk__gt=uuid.UUID(fill["after"]))
        want = limit - len(changes)
        rows = wire_rows(spec, qs.order_by("pk")[:want], user)
        changes.extend(
            {"type": spec.name, "id": r.record["id"], "op": "upsert", "version": r.version, "record": r.record}
            for r in rows
        )
        if len(rows) < want:
            fill["spec"] += 1
            fill["after"] = None
        else:
            fill["after"] = str(rows[-1].pk)
    done = fill["spec"] >= len(specs)
    return changes, (None if done else fill)


def _stream(
    user: Any, teams: list[int], position: list[int], limit: int
) -> tuple[list[dict[str, Any]], list[int], bool, bool]:
    """Changes after `position` and below the stable horizon, as the records stand now.

    Returns (changes, new position, has_more, behind): behind when committed changes of these teams wait above the
    horizon for a sync write still open (they come with a later pull).
    """
    hz = horizon()
    below = hz.below
    rows = read_changes(teams, tuple(position), limit, below)
    has_more = len(rows) == limit
    behind = not has_more and hz.held_by is not None and held_back(teams, below)
    if behind:
        logger.warning("pull held back: a sync write has been open for %.1f s", hz.held_by)
    if has_more:
        new_position = [rows[-1][6], rows[-1][0]]
    else:
        # Every change below the horizon has now been seen; later ones will all sort after this.
        new_position = max(list(position), [below - 1, MAX_ID])
    by_type: dict[str, Any] = {}
    for row in rows:
        by_type.setdefault(row[1], set()).add(_as_uuid(row[2]))
    current: dict[tuple[str, uuid.UUID], WireRow] = {}
    for type_name, ids in by_type.items():
        spec = get_spec(type_name)
        for record in wire_rows(spec, spec.model._base_manager.filter(pk__in=ids), user):
            current[(type_name, record.pk)] = record
    team_set = set(teams)
    changes, emitted = [], set()
    for row in rows:
        key = (row[1], _as_uuid(row[2]))
        if key in emitted:
            continue
        emitted.add(key)
        changes.append(_change_for(row[1], key[1], current.get(key), team_set))
    return changes, new_position, has_more, behind


def _change_for(type_name: str, record_id: uuid.UUID, record: WireRow | None, team_set: set[int]) -> dict[str, Any]:
    """What the device should do now, from the record's current state (not from the stale change row)."""
    base = {"type": type_name, "id": str(record_id)}
    if record is None:
        return {**base, "op": Change.Op.DELETE, "version": None}
    if record.team_id not in team_set:
        return {**base, "op": Change.Op.REMOVE, "version": record.version}
    if record.deleted:
        return {**base, "op": Change.Op.DELETE, "version": record.version}
    return {**base, "op": Change.Op.UPSERT, "version": record.version, "record": record.record}


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def audit_pull(user: Any, device: Any, changes: list[dict[str, Any]], request: Any) -> None:
    """One SYNC_PULL audit event for what a device was sent, naming the DVP records."""
    dvp = sum(1 for c in changes if c.get("record") and c["record"].get("program") == "DVP")
    audit_record(
        action=AuditEvent.Action.SYNC_PULL,
        actor=user,
        device=device,
        request=request,
        object_type="device",
        object_id=device.pk,
        records=len(changes),
        dvp_records=dvp,
        dvp_ids=[c["id"] for c in changes if c.get("record") and c["record"].get("program") == "DVP"][:500],
    )
