"""One named test (or more) per invariant of sync.md, on real PostgreSQL."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import Engagement, Shift
from records.access import get_for_write
from records.models import Amendment, Change, Conflict, RecordVersion
from records.registry import get_spec
from records.writes import WriteContext, record_create, record_move
from responders.models import Membership, Role
from responders.services import device_revoke
from sync.models import Mutation, QuarantinedPush
from sync.services import tombstones_purge
from tests.support import (
    ON_VIEW,
    OlderTransactionLeftOpen,
    SyncWriteLeftOpen,
    mutation,
    pull,
    push,
    wait_for_stable_horizon,
)

# --- 1. No lost writes ---


def test_invariant_1_rejected_mutation_is_kept_visible_and_replayable(field):
    api = field.api(field.responder)
    bad = mutation(1, fields={"origin": "911_dispatch"})  # a 911 dispatch needs its CAD number
    response = push(api, bad)
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert result["code"] == "validation_error"
    assert result["fields"]["cad_number"][0]["code"] == "cad_number_required"
    assert not Engagement.objects.filter(pk=bad["id"]).exists()

    kept = Mutation.objects.get(pk=bad["mutation_id"])
    assert kept.status == "rejected" and kept.payload["fields"] == {"origin": "911_dispatch"}
    assert kept.team_id == field.team_a.pk  # so the team's supervisor sees it too

    # Visible to the author and the supervisor, not to another team.
    for user, visible in ((field.responder, True), (field.supervisor, True), (field.other_team, False)):
        listed = field.api(user).get("/api/v1/sync/quarantine").json()["results"]
        assert (bad["mutation_id"] in [m["id"] for m in listed]) is visible

    # Fixed and replayed: the record exists, the original stays linked to its replay.
    replay = field.api(field.supervisor).post(
        f"/api/v1/sync/quarantine/{bad['mutation_id']}/replay",
        {"fields": {"origin": "911_dispatch", "cad_number": "P26-112233"}},
        format="json",
    )
    assert replay.status_code == 200, replay.json()
    assert replay.json()["status"] == "applied"
    assert Engagement.objects.get(pk=bad["id"]).cad_number == "P26-112233"
    kept.refresh_from_db()
    assert kept.replayed_as_id is not None
    assert bad["mutation_id"] not in [m["id"] for m in api.get("/api/v1/sync/quarantine").json()["results"]]


def test_invariant_1_acknowledged_mutation_is_durable(tfield):
    """What the server answered 'applied' is committed: a fresh connection reads it."""
    api = tfield.api(tfield.responder)
    m = mutation(1, fields=ON_VIEW)
    assert push(api, m).json()["results"][0]["status"] == "applied"
    connection.close()
    assert Engagement.objects.filter(pk=m["id"]).exists()
    assert Mutation.objects.get(pk=m["mutation_id"]).status == "applied"


# --- 2. Idempotent push ---


def test_invariant_2_repeated_push_changes_nothing_and_returns_the_same_results(field):
    api = field.api(field.responder)
    rid = uuid.uuid4()
    batch = [
        mutation(1, record_id=rid, fields=ON_VIEW),
        mutation(2, "update", record_id=rid, fields={"disposition": "referred"}, base_version=1),
    ]
    first = push(api, *batch).json()
    counts = (
        Engagement.objects.count(),
        RecordVersion.objects.count(),
        Change.objects.count(),
        Mutation.objects.count(),
    )
    second = push(api, *batch).json()
    assert [r["status"] for r in first["results"]] == ["applied", "applied"]
    for a, b in zip(first["results"], second["results"], strict=True):
        assert b.pop("duplicate") is True
        assert a == b
    assert (
        Engagement.objects.count(),
        RecordVersion.objects.count(),
        Change.objects.count(),
        Mutation.objects.count(),
    ) == counts
    assert Engagement.objects.get(pk=rid).version == 2


def test_invariant_2_mutation_id_reused_for_different_seq_is_rejected(field):
    api = field.api(field.responder)
    m = mutation(1, fields=ON_VIEW)
    push(api, m)
    reused = {**mutation(2, fields=ON_VIEW), "mutation_id": m["mutation_id"]}
    result = push(api, reused).json()["results"][0]
    assert result["status"] == "rejected" and result["code"] == "mutation_id_reused"


# --- 3. Per-device order ------------------------------------------------------------------------------------------


def test_invariant_3_batches_out_of_order_apply_in_device_order(field):
    api = field.api(field.responder)
    rid = uuid.uuid4()
    create = mutation(1, record_id=rid, fields=ON_VIEW)
    edit = mutation(2, "update", record_id=rid, fields={"disposition": "referred"}, base_version=1)
    later = mutation(3, "update", record_id=rid, fields={"disposition": "transported"}, base_version=2)

    # The later batches arrive first: they wait, nothing is applied out of order.
    waiting = push(api, later, edit).json()["results"]
    assert [r["status"] for r in waiting] == ["pending", "pending"]
    assert waiting[0]["waiting_for_seq"] == 1
    assert not Engagement.objects.filter(pk=rid).exists()

    # The first arrives (twice, in one retry storm): everything applies once, in order.
    assert push(api, create).json()["results"][0]["status"] == "applied"
    assert push(api, create).json()["results"][0]["duplicate"] is True
    record = Engagement.objects.get(pk=rid)
    assert (record.version, record.disposition) == (3, "transported")
    versions = list(RecordVersion.objects.filter(record_id=rid).order_by("version").values_list("version", flat=True))
    assert versions == [1, 2, 3]
    # Re-sent, the waiting ones now answer with their final results.
    again = push(api, edit, later).json()["results"]
    assert [(r["status"], r["version"], r["duplicate"]) for r in again] == [("applied", 2, True), ("applied", 3, True)]


def test_invariant_3_concurrent_pushes_from_one_device_serialise(tfield):
    api_device = tfield.device(tfield.responder)
    apis = [tfield.api(tfield.responder, api_device) for _ in range(2)]
    rid = uuid.uuid4()
    batches = [
        [mutation(1, record_id=rid, fields=ON_VIEW)],
        [mutation(2, "update", record_id=rid, fields={"notes": "second"}, base_version=1)],
    ]
    barrier = threading.Barrier(2)
    answers = [None, None]

    def run(i):
        try:
            barrier.wait()
            answers[i] = push(apis[i], *batches[i]).json()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Whichever arrived first, seq 2 never applied before seq 1.
    record = Engagement.objects.get(pk=rid)
    assert record.notes == "second" and record.version == 2
    statuses = {r["status"] for a in answers for r in a["results"]}
    assert statuses <= {"applied", "pending"}


# --- 4. Atomic per mutation, partial per batch ---


def test_invariant_4_one_bad_mutation_does_not_reject_the_batch(field):
    api = field.api(field.responder)
    good1, good2 = mutation(1, fields=ON_VIEW), mutation(3, fields=ON_VIEW)
    bad = mutation(2, fields={**ON_VIEW, "supplies": {"water": -4}})
    results = push(api, good1, bad, good2).json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["fields"]["supplies"][0]["code"] == "out_of_range"
    assert Engagement.objects.filter(pk__in=[good1["id"], good2["id"]]).count() == 2
    assert not Engagement.objects.filter(pk=bad["id"]).exists()
    assert not RecordVersion.objects.filter(record_id=bad["id"]).exists()  # the savepoint took it all back


def test_invariant_4_unreadable_mutations_are_answered_by_index_and_kept(field):
    api = field.api(field.responder)
    good = mutation(1, fields=ON_VIEW)
    response = push(api, good, {"seq": "x"}, "not an object")
    results = response.json()["results"]
    assert response.status_code == 200
    assert results[0]["status"] == "applied"
    assert [(r["index"], r["status"], r["code"]) for r in results[1:]] == [
        (1, "rejected", "invalid_mutation"),
        (2, "rejected", "invalid_mutation"),
    ]
    assert QuarantinedPush.objects.get().body == {"mutations": [{"seq": "x"}, "not an object"]}


def test_invariant_4_result_kinds(field):
    """Each documented answer: applied, merged, conflict, rejected, duplicate (amendment: invariant 9)."""
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    assert push(a, mutation(1, record_id=rid, fields=ON_VIEW)).json()["results"][0]["status"] == "applied"
    push(b, mutation(1, "update", record_id=rid, fields={"needs": ["housing", "medical"]}, base_version=1))
    merged = push(
        a, mutation(2, "update", record_id=rid, fields={"needs": ["housing", "basic_needs"]}, base_version=1)
    ).json()["results"][0]
    assert merged["status"] == "merged" and merged["merged_fields"] == ["needs"]
    push(b, mutation(2, "update", record_id=rid, fields={"disposition": "referred"}, base_version=3))
    conflict = push(
        a, mutation(3, "update", record_id=rid, fields={"disposition": "transported"}, base_version=3)
    ).json()["results"][0]
    assert conflict["status"] == "conflict" and conflict["conflicts"][0]["field"] == "disposition"
    assert Conflict.objects.filter(pk=conflict["conflicts"][0]["id"]).exists()


# --- 5. Field-level merge ---------------------------------------------------------------------------------------------


def test_invariant_5_field_level_merge_by_policy(field):
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields={**ON_VIEW, "supplies": {"water": 2}, "notes": "Base."}))
    # Both edit from version 1, offline.
    push(
        b,
        mutation(
            1,
            "update",
            record_id=rid,
            base_version=1,
            fields={
                "needs": ["housing", "medical"],
                "supplies": {"water": 5},
                "notes": "Partner's note.",
                "disposition": "referred",
                "address": "Telegraph & 31st",
            },
        ),
    )
    result = push(
        a,
        mutation(
            2,
            "update",
            record_id=rid,
            base_version=1,
            fields={
                "needs": ["basic_needs"],
                "supplies": {"water": 3, "food": 1},
                "notes": "My note.",
                "disposition": "transported",
                "beat": "06X",
            },
        ),
    ).json()["results"][0]
    record = Engagement.objects.get(pk=rid)
    # Untouched by the other side: clean.
    assert record.beat == "06X" and record.address == "Telegraph & 31st"
    # Sets: three-way (partner added medical; I removed housing and added basic_needs).
    assert sorted(record.needs) == ["basic_needs", "medical"]
    # Counts: both increments (+3 and +1 water from 2) and my new food.
    assert record.supplies == {"water": 6, "food": 1}
    # Free text: both kept.
    assert "Partner's note." in record.notes and "My note." in record.notes
    # Scalar: the value first in server order stays; mine is a conflict record, not lost.
    assert record.disposition == "referred"
    conflict = Conflict.objects.get(record_id=rid)
    assert (conflict.field, conflict.server_value, conflict.incoming_value, conflict.base_value) == (
        "disposition",
        "referred",
        "transported",
        "",
    )
    assert conflict.incoming_author == field.responder and conflict.server_author == field.partner
    assert result["status"] == "conflict"
    assert sorted(result["merged_fields"]) == ["needs", "notes", "supplies"]


def test_invariant_5_status_follows_its_state_machine(field):
    a, b = field.api(field.interrupter), field.api(field.coordinator)
    rid = uuid.uuid4()
    push(a, mutation(1, type_="follow_up_case", record_id=rid, fields={"status": "open"}))
    push(b, mutation(1, "update", type_="follow_up_case", record_id=rid, base_version=1, fields={"status": "closed"}))
    # closed -> in_mediation is not a move the machine allows: the server keeps closed, the move is a conflict.
    r = push(
        a,
        mutation(2, "update", type_="follow_up_case", record_id=rid, base_version=1, fields={"status": "in_mediation"}),
    ).json()["results"][0]
    assert r["status"] == "conflict"
    push(
        b,
        mutation(2, "update", type_="follow_up_case", record_id=rid, base_version=3, fields={"status": "in_mediation"}),
    )
    # in_mediation -> resolved is allowed from where the case stands now: stored as sent, though B moved it since.
    r = push(
        a, mutation(3, "update", type_="follow_up_case", record_id=rid, base_version=3, fields={"status": "resolved"})
    ).json()["results"][0]
    assert r["status"] == "applied"
    assert get_spec("follow_up_case").model.objects.get(pk=rid).status == "resolved"


def test_invariant_5_conflict_resolution_is_a_synced_change(tfield):
    a, b = tfield.api(tfield.responder), tfield.api(tfield.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "referred"}))
    result = push(
        a, mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})
    ).json()["results"][0]
    conflict_id = result["conflicts"][0]["id"]
    watcher = tfield.api(tfield.partner)
    cursor = pull(watcher).json()["cursor"]

    # The responder may see it but not resolve it; the supervisor resolves.
    assert (
        a.post(
            f"/api/v1/sync/conflicts/{conflict_id}/resolve", {"resolution": "take_incoming"}, format="json"
        ).status_code
        == 403
    )
    assert conflict_id in [c["id"] for c in a.get("/api/v1/sync/conflicts").json()["results"]]
    resolved = tfield.api(tfield.supervisor).post(
        f"/api/v1/sync/conflicts/{conflict_id}/resolve", {"resolution": "take_incoming"}, format="json"
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert Engagement.objects.get(pk=rid).disposition == "transported"
    changes = pull(watcher, cursor).json()["changes"]
    assert [(c["id"], c["record"]["disposition"]) for c in changes] == [(str(rid), "transported")]
    assert AuditEvent.objects.filter(action="sync.conflict_resolved", object_id=conflict_id).exists()
    # Another team's supervisor cannot even see it.
    outsider = tfield.user("sup_b", tfield.macro, tfield.team_b, Role.SUPERVISOR)
    assert (
        tfield.api(outsider)
        .post(f"/api/v1/sync/conflicts/{conflict_id}/resolve", {"resolution": "keep_server"}, format="json")
        .status_code
        == 404
    )


def test_invariant_5_client_clock_never_decides(field):
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    future = (timezone.now() + timedelta(days=1)).isoformat()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "referred"}, device_time=past))
    push(
        a,
        mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "transported"}, device_time=future),
    )
    # The later device clock does not win; server order does. The device times are kept as reported.
    record = Engagement.objects.get(pk=rid)
    assert record.disposition == "referred"
    assert record.device_updated_at.isoformat() == timezone.datetime.fromisoformat(future).isoformat()


# Tests that pull, write, then pull again commit for real (tfield): inside one test transaction every write
# shares one transaction id, which a cursor may already have passed; in service each request is its own.

# --- 6. Gap-free pull cursor ---


def test_invariant_6_out_of_order_commits_are_not_skipped(tfield):
    """T1 starts writing first but commits last; a pull in between must not move the cursor past T1."""
    reader = tfield.api(tfield.partner)
    cursor = pull(reader).json()["cursor"]  # caught up on an empty team
    spec = get_spec("engagement")
    ids = {}
    slow = SyncWriteLeftOpen(tfield.responder).__enter__()

    def fast_writer():
        try:
            ids["fast"] = record_create(spec=spec, ctx=WriteContext(actor=tfield.responder), data=ON_VIEW).instance.pk
        finally:
            connection.close()

    t2 = threading.Thread(target=fast_writer)
    t2.start()
    t2.join()
    # The fast transaction committed with a later id and later position than the slow one.
    ids["slow"] = slow.record_id
    fast_row = Change.objects.get(record_id=ids["fast"])
    slow_row = Change.objects.filter(record_id=ids["slow"]).first()
    assert slow_row is None  # not committed yet
    page = pull(reader, cursor).json()
    seen = {c["id"] for c in page["changes"]}
    cursor = page["cursor"]
    slow.close()
    assert Change.objects.get(record_id=ids["slow"]).id < fast_row.id  # numbered first, committed last
    wait_for_stable_horizon()
    page = pull(reader, cursor).json()
    seen |= {c["id"] for c in page["changes"]}
    assert {str(ids["slow"]), str(ids["fast"])} <= seen


def test_invariant_6_a_write_stamped_below_its_own_transaction_id_is_not_skipped(tfield):
    """Regression: a snapshot's xmax is one past the newest *finished* transaction, so a writer stamped while an
    older transaction was still running got a position below its own transaction id. A pull while it was still
    open read up to that id, found nothing there (not committed), moved its cursor past the position, and never
    sent the record. Seen under load as an intermittent failure of the test above; made certain here by holding
    an older transaction open. Positions are now at least the writer's own transaction id."""
    reader = tfield.api(tfield.partner)
    cursor = pull(reader).json()["cursor"]
    with OlderTransactionLeftOpen():
        slow = SyncWriteLeftOpen(tfield.responder).__enter__()
        page = pull(reader, cursor).json()
        seen = {c["id"] for c in page["changes"]}
        cursor = page["cursor"]
        slow.close()
    wait_for_stable_horizon()
    page = pull(reader, cursor).json()
    seen |= {c["id"] for c in page["changes"]}
    assert str(slow.record_id) in seen


# --- 7. Scope ---


def test_invariant_7_dvp_never_reaches_macro_and_teams_stay_apart(field):
    dvp = field.api(field.interrupter)
    push(
        dvp,
        mutation(
            1,
            type_="incident",
            fields={"dvp_number": "DVP-1", "kind": "shooting", "occurred_at": "2026-11-20T21:00:00Z"},
        ),
    )
    push(field.api(field.other_team), mutation(1, fields=ON_VIEW))
    push(field.api(field.responder), mutation(1, fields=ON_VIEW))
    for user, allowed_types, allowed_teams in (
        (field.responder, {"engagement"}, {field.team_a.pk}),
        (field.program_supervisor, {"engagement"}, {field.team_a.pk, field.team_b.pk}),
        (field.coordinator, {"incident"}, {field.team_d.pk}),
    ):
        changes = pull(field.api(user)).json()["changes"]
        assert changes, user
        assert {c["type"] for c in changes} == allowed_types
        assert {c["record"]["team"] for c in changes} == allowed_teams


def test_invariant_7_pushing_into_another_scope_is_rejected_without_leaking(field):
    other = uuid.uuid4()
    push(field.api(field.other_team), mutation(1, record_id=other, fields=ON_VIEW))
    api = field.api(field.responder)
    results = push(
        api,
        mutation(1, "update", record_id=other, fields={"notes": "x"}, base_version=1),
        mutation(2, fields=ON_VIEW, team=field.team_b.pk),
        mutation(
            3, type_="incident", fields={"dvp_number": "D", "kind": "shooting", "occurred_at": "2026-11-20T21:00:00Z"}
        ),
    ).json()["results"]
    assert [r["code"] for r in results] == ["not_found", "validation_error", "validation_error"]
    assert results[1]["fields"]["team"][0]["code"] == "team_not_writable"
    assert Engagement.objects.get(pk=other).notes == ON_VIEW["notes"]


def test_invariant_7_reassignment_and_revoked_membership_produce_removals(tfield):
    watcher = tfield.api(tfield.partner)
    rid = uuid.uuid4()
    push(tfield.api(tfield.responder), mutation(1, record_id=rid, fields=ON_VIEW))
    page = pull(watcher).json()
    assert [c["id"] for c in page["changes"]] == [str(rid)]

    with transaction.atomic():
        spec = get_spec("engagement")
        record_move(
            spec=spec,
            ctx=WriteContext(actor=tfield.program_supervisor),
            instance=get_for_write(spec, tfield.program_supervisor, rid),
            team_id=tfield.team_b.pk,
        )
    moved = pull(watcher, page["cursor"]).json()
    assert [(c["id"], c["op"]) for c in moved["changes"]] == [(str(rid), "remove")]
    # The other team's device receives it.
    assert str(rid) in [c["id"] for c in pull(tfield.api(tfield.other_team)).json()["changes"]]

    # A revoked membership: the next pull tells the device to drop the whole team.
    Membership.objects.filter(user=tfield.partner).update(is_active=False)
    Membership.objects.create(user=tfield.partner, program=tfield.macro, team=tfield.team_b, role=Role.FIELD_RESPONDER)
    changed = pull(tfield.api(tfield.partner, watcher.device), moved["cursor"]).json()
    assert changed["removed_teams"] == [tfield.team_a.pk]
    assert str(rid) in [c["id"] for c in changed["changes"]]  # team B backfilled


def test_invariant_7_revoked_device_and_deactivated_user_get_nothing(field):
    api = field.api(field.responder)
    push(api, mutation(1, fields=ON_VIEW))
    device_revoke(device=api.device, actor=field.supervisor)
    for response in (pull(api), push(api, mutation(2, fields=ON_VIEW))):
        assert response.status_code == 401 and response.json()["code"] == "device_revoked"
    api2 = field.api(field.partner)
    field.partner.is_active = False
    field.partner.save()
    response = pull(api2)
    assert response.status_code == 401 and response.json()["code"] == "user_inactive"


def test_invariant_7_police_case_number_only_for_coordinators(field):
    rid = uuid.uuid4()
    push(
        field.api(field.coordinator),
        mutation(
            1,
            type_="incident",
            record_id=rid,
            fields={
                "dvp_number": "DVP-7",
                "kind": "homicide",
                "occurred_at": "2026-11-20T21:00:00Z",
                "police_case_number": "OPD-26-0099",
            },
        ),
    )
    by_role = {}
    for user in (field.coordinator, field.interrupter):
        record = pull(field.api(user)).json()["changes"][0]["record"]
        by_role[user.pk] = record.get("police_case_number")
    assert by_role == {field.coordinator.pk: "OPD-26-0099", field.interrupter.pk: None}
    r = push(
        field.api(field.interrupter),
        mutation(1, "update", type_="incident", record_id=rid, base_version=1, fields={"police_case_number": "X"}),
    ).json()["results"][0]
    assert r["code"] == "field_restricted"


# --- 8. Deletes ---


def test_invariant_8_deletes_are_tombstones_that_sync(tfield):
    a, watcher = tfield.api(tfield.responder), tfield.api(tfield.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    cursor = pull(watcher).json()["cursor"]
    assert push(a, mutation(2, "delete", record_id=rid, base_version=1)).json()["results"][0]["version"] == 2
    assert Engagement.objects.get(pk=rid).deleted_at is not None
    changes = pull(watcher, cursor).json()["changes"]
    assert [(c["id"], c["op"]) for c in changes] == [(str(rid), "delete")]
    # A fresh device never receives it.
    assert pull(tfield.api(tfield.partner)).json()["changes"] == []


def test_invariant_8_stale_delete_does_not_erase_unseen_edits(field):
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"notes": "Important update."}))
    r = push(a, mutation(2, "delete", record_id=rid, base_version=1)).json()["results"][0]
    assert r["status"] == "conflict"
    assert Engagement.objects.get(pk=rid).deleted_at is None
    assert Conflict.objects.get(record_id=rid).field == "_deleted"


def test_invariant_8_purged_tombstones_answer_410_never_resurrect(tfield):
    a, watcher = tfield.api(tfield.responder), tfield.api(tfield.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    old_cursor = pull(watcher).json()["cursor"]
    push(a, mutation(2, "delete", record_id=rid, base_version=1))
    Change.objects.filter(record_id=rid).update(changed_at=timezone.now() - timedelta(days=400))
    Engagement.objects.filter(pk=rid).update(deleted_at=timezone.now() - timedelta(days=400))
    assert tombstones_purge() == 1
    response = pull(watcher, old_cursor)
    assert response.status_code == 410 and response.json()["code"] == "cursor_expired"
    fresh = pull(watcher).json()
    assert fresh["reset"] is True and str(rid) not in [c["id"] for c in fresh["changes"]]


# --- 9. Locks ---


def test_invariant_9_edit_to_approved_shift_becomes_an_amendment(field):
    api = field.api(field.responder)
    sid, rid = uuid.uuid4(), uuid.uuid4()
    push(
        api,
        mutation(1, type_="shift", record_id=sid, fields={"call_sign": "M-1", "started_at": "2026-11-24T07:00:00Z"}),
        mutation(2, record_id=rid, fields={**ON_VIEW, "shift": str(sid)}),
    )
    Shift.objects.filter(pk=sid).update(review_status=Shift.ReviewStatus.APPROVED)
    r = push(api, mutation(3, "update", record_id=rid, base_version=1, fields={"disposition": "referred"})).json()[
        "results"
    ][0]
    assert r["status"] == "amendment"
    record = Engagement.objects.get(pk=rid)
    assert record.disposition == "" and record.version == 1  # not overwritten
    amendment = Amendment.objects.get(pk=r["amendment_id"])
    assert amendment.changes == {"disposition": "referred"} and amendment.shift_id == sid  # not lost
    # A record added after approval is applied and flagged late.
    late = mutation(4, fields={**ON_VIEW, "shift": str(sid)})
    assert push(api, late).json()["results"][0]["status"] == "applied"
    assert Engagement.objects.get(pk=late["id"]).is_late is True


# --- 10. Bounded work ---


def test_invariant_10_push_and_pull_are_bounded(tfield, settings, django_assert_max_num_queries):
    api = tfield.api(tfield.responder)
    too_many = [mutation(i + 1, fields=ON_VIEW) for i in range(5000)]
    response = push(api, *too_many)
    assert response.status_code == 413 and response.json()["code"] == "batch_too_large"
    assert Mutation.objects.count() == 0

    ctx = WriteContext(actor=tfield.responder, audit=False)
    for _ in range(25):
        record_create(spec=get_spec("engagement"), ctx=ctx, data=ON_VIEW)
    watcher = tfield.api(tfield.partner)
    settings.SYNC_MAX_PULL_PAGE = 10
    seen, cursor, pages = set(), None, 0
    while True:
        page = pull(watcher, cursor, limit=500).json()
        assert len(page["changes"]) <= 10
        seen |= {c["id"] for c in page["changes"]}
        cursor, pages = page["cursor"], pages + 1
        if not page["has_more"]:
            break
    assert len(seen) == 25 and pages >= 3
    # A page costs the same number of queries whatever its size.
    for _ in range(25):
        record_create(spec=get_spec("engagement"), ctx=ctx, data=ON_VIEW)
    with django_assert_max_num_queries(16):
        page = pull(watcher, cursor, limit=10).json()
    assert len(page["changes"]) == 10


# --- 11. Versioned protocol ---


def test_invariant_11_unsupported_protocol_gets_426_and_mutations_are_kept(field):
    api = field.api(field.responder)
    m = mutation(1, fields=ON_VIEW)
    response = push(api, m, protocol=99)
    assert response.status_code == 426
    assert response.json()["code"] == "upgrade_required" and response.json()["quarantined"] is True
    kept = QuarantinedPush.objects.get()
    assert kept.reason_code == "unsupported_protocol" and kept.body["mutations"][0]["mutation_id"] == m["mutation_id"]
    assert api.get("/api/v1/sync/pull", {"protocol": 0}).status_code == 426
    missing = api.post("/api/v1/sync/push", {"mutations": []}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "protocol_required"


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxfQ:1abc:def"])
def test_tampered_cursor_is_refused(field, cursor):
    response = pull(field.api(field.responder), cursor)
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"


def test_cursor_of_another_device_is_refused(field):
    cursor = pull(field.api(field.responder)).json()["cursor"]
    response = pull(field.api(field.partner), cursor)
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"
