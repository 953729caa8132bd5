"""The WatermelonDB protocol adapter (sync/watermelon/): wire format and every rule of docs/watermelondb.md."""

import json
import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import Engagement, Incident
from records.models import Conflict
from responders.models import Membership, Role
from sync.models import Mutation, WatermelonShadow
from sync.services import tombstones_purge
from sync.watermelon import schema
from tests.support import mutation, push, wait_for_stable_horizon

PULL, PUSH = "/api/v1/sync/watermelon/pull", "/api/v1/sync/watermelon/push"


def wm_pull(api, last=None, migration=None):
    params = {"last_pulled_at": "null" if last is None else last, "schema_version": 1}
    if migration is not None:
        params["migration"] = json.dumps(migration)
    return api.get(PULL, params)


def wm_push(api, changes, last):
    return api.post(f"{PUSH}?last_pulled_at={'null' if last is None else last}", changes, format="json")


def updates(*rows):
    return {"engagements": {"created": [], "updated": list(rows), "deleted": []}}


def synced(api, last=None):
    response = wm_pull(api, last)
    assert response.status_code == 200, response.content
    return response.json()


def table(changes, name="engagements"):
    return changes.get(name, {"created": [], "updated": [], "deleted": []})


def engagement_raw(field, **columns):
    raw = {
        "id": str(uuid.uuid4()),
        "origin": "on_view",
        "beat": "19X",
        "notes": "Checked on a man at the bus shelter.",
        "needs": '["housing"]',
        "supplies": '{"water": 2}',
        "team_id": field.team_a.pk,
        "_status": "created",
        "_changed": "",
    }
    raw.update(columns)
    return raw


def create_engagement(field, api, last, **columns):
    raw = engagement_raw(field, **columns)
    response = wm_push(api, {"engagements": {"created": [raw], "updated": [], "deleted": []}}, last)
    assert response.status_code == 200, response.content
    assert response.json()["experimentalRejectedIds"] == {}, response.json()
    return raw


def pulled_row(changes, record_id, name="engagements"):
    part = table(changes["changes"], name)
    rows = [r for r in part["created"] + part["updated"] if r["id"] == str(record_id)]
    assert len(rows) == 1, part
    return rows[0]


PY_TYPES = {"string": str, "number": (int, float), "boolean": bool}


def assert_matches_schema(row, table_name):
    """Every value is of its column's type (WatermelonDB would otherwise blank it), null only where optional."""
    cols = {c["name"]: c for t in schema()["tables"] if t["name"] == table_name for c in t["columns"]}
    for name, value in row.items():
        if name == "id":
            continue
        col = cols[name]
        if value is None:
            assert col.get("isOptional"), (table_name, name)
        else:
            assert isinstance(value, PY_TYPES[col["type"]]), (table_name, name, value)
            assert not (col["type"] == "number" and isinstance(value, bool)), (table_name, name)


def edited(row, **columns):
    """A row as WatermelonDB pushes a local edit: every column, _status updated, _changed naming the edits."""
    return {**row, **columns, "_status": "updated", "_changed": ",".join(columns)}


def test_schema_lists_every_record_type_and_the_columns_pulls_use(field):
    api = field.api(field.responder)
    response = api.get("/api/v1/sync/watermelon/schema")
    assert response.status_code == 200
    body = response.json()
    assert body == schema()
    tables = {t["name"]: {c["name"]: c for c in t["columns"]} for t in body["tables"]}
    assert set(tables) == {
        "engagements",
        "shifts",
        "incidents",
        "scene_responses",
        "follow_up_cases",
        "contact_attempts",
    }
    assert tables["engagements"]["needs"]["type"] == "string"  # JSON text, for @json
    assert tables["engagements"]["on_scene_at"] == {"name": "on_scene_at", "type": "number", "isOptional": True}
    assert tables["scene_responses"]["incident_id"]["type"] == "string"
    assert tables["engagements"]["server_version"]["type"] == "number"

    create_engagement(field, api, None)
    row = pulled_row(synced(api), Engagement.objects.get().pk)
    assert set(row) - {"id"} <= set(tables["engagements"])
    assert_matches_schema(row, "engagements")


def test_every_record_type_pulls_in_its_columns_types(field):
    """The demo day holds every record type, with references between them and a follow-up assigned to a
    person (a number column: a string column would make WatermelonDB blank it and push the blank back)."""
    from django.core.management import call_command

    from responders.models import User

    call_command("load_demo_data", stdout=open(os.devnull, "w"))  # noqa: SIM115
    seen = set()
    for user in User.objects.filter(username__in=["macro_supervisor", "dvp_coordinator"]):
        body = synced(field.api(user))
        for name, part in body["changes"].items():
            for row in part["created"]:
                assert_matches_schema(row, name)
                seen.add(name)
    assert seen == {t["name"] for t in schema()["tables"]}


def test_first_pull_is_created_only_with_a_positive_number_timestamp(field):
    macro = field.api(field.partner)
    mine = create_engagement(field, macro, None)
    Engagement.objects.filter(pk=mine["id"]).update()  # exists
    gone = create_engagement(field, macro, None)
    wm_push(macro, {"engagements": {"created": [], "updated": [], "deleted": [gone["id"]]}}, None)

    body = synced(field.api(field.responder))
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 0
    part = table(body["changes"])
    assert [r["id"] for r in part["created"]] == [mine["id"]]
    assert part["updated"] == [] and part["deleted"] == []  # turbo-compatible: nothing but created
    assert all(not p["created"] and not p["deleted"] for t, p in body["changes"].items() if t != "engagements")
    row = part["created"][0]
    assert row["needs"] == '["housing"]' and json.loads(row["supplies"]) == {"water": 2}
    assert row["server_version"] == 1 and row["team_id"] == field.team_a.pk
    assert isinstance(row["server_received_at"], int)
    assert "_status" not in row and "_changed" not in row


def test_a_pushed_row_is_stored_with_its_columns_decoded(field):
    api = field.api(field.responder)
    on_scene = timezone.now().replace(microsecond=0) - timedelta(minutes=20)
    raw = create_engagement(field, api, None, on_scene_at=int(on_scene.timestamp() * 1000), shift_id=None)
    record = Engagement.objects.get(pk=raw["id"])
    assert record.needs == ["housing"] and record.supplies == {"water": 2}
    assert record.on_scene_at == on_scene
    assert record.created_by == field.responder and record.team == field.team_a
    assert Mutation.objects.get(record_id=raw["id"]).status == "applied"


def test_edits_of_the_same_record_on_two_phones_merge_field_by_field(tfield):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None)
    first_a, first_b = synced(a), synced(b)
    row_a, last_a, last_b = pulled_row(first_a, raw["id"]), first_a["timestamp"], first_b["timestamp"]

    # Offline, A moves the beat and adds to the notes; B sets the address and edits the notes too.
    pushed = wm_push(a, updates(edited(row_a, beat="20Y", notes="A: left water")), last_a)
    assert pushed.json()["results"][0]["status"] == "applied"
    wait_for_stable_horizon()
    b_pull = synced(b, last_b)  # B's synchronize pulls first; its local edits stay on top of the pulled row
    b_row = {**pulled_row(b_pull, raw["id"]), "address": "International Blvd", "notes": "B: declined a ride"}
    b_row.update(_status="updated", _changed="address,notes")
    answer = wm_push(b, {"engagements": {"created": [], "updated": [b_row], "deleted": []}}, b_pull["timestamp"])
    assert answer.status_code == 200
    assert answer.json()["experimentalRejectedIds"] == {}

    record = Engagement.objects.get(pk=raw["id"])
    assert record.beat == "20Y" and record.address == "International Blvd"
    assert "A: left water" in record.notes and "B: declined a ride" in record.notes  # free text keeps both


def test_an_edit_made_before_a_pull_that_brought_a_newer_value_is_a_conflict_not_an_overwrite(tfield):
    """WatermelonDB keeps a local edit on top of the pulled row, so the row B pushes carries the newest
    server_version: merging against it would erase A's value silently. The adapter merges against what B held
    when it edited."""
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None, disposition="")
    first_b = synced(b)
    row_a_pull = synced(a)
    row_a = pulled_row(row_a_pull, raw["id"])
    wm_push(a, updates(edited(row_a, disposition="resolved_on_scene")), row_a_pull["timestamp"])

    # B edited the disposition offline (from what it held: ""), then syncs: pull, then push.
    wait_for_stable_horizon()
    b_pull = synced(b, first_b["timestamp"])
    pulled = pulled_row(b_pull, raw["id"])
    assert pulled["disposition"] == "resolved_on_scene" and pulled["server_version"] == 2
    b_row = {**pulled, "disposition": "transported", "_status": "updated", "_changed": "disposition"}
    answer = wm_push(b, {"engagements": {"created": [], "updated": [b_row], "deleted": []}}, b_pull["timestamp"])
    assert answer.json()["results"][0]["status"] == "conflict", answer.json()

    conflict = Conflict.objects.get(record_id=raw["id"], field="disposition")
    assert conflict.server_value == "resolved_on_scene" and conflict.incoming_value == "transported"
    assert Engagement.objects.get(pk=raw["id"]).disposition == "resolved_on_scene"


def test_the_same_push_sent_twice_changes_nothing_the_second_time(field):
    api = field.api(field.responder)
    raw = engagement_raw(field)
    changes = {"engagements": {"created": [raw], "updated": [], "deleted": []}}
    assert wm_push(api, changes, None).json()["results"][0]["status"] == "applied"
    version = Engagement.objects.get(pk=raw["id"]).version
    again = wm_push(api, changes, None)  # the answer was lost; WatermelonDB sends the row as created again
    assert again.json()["experimentalRejectedIds"] == {}
    assert Engagement.objects.filter(pk=raw["id"]).count() == 1
    assert Engagement.objects.get(pk=raw["id"]).version == version


def test_an_updated_row_the_server_never_had_is_created(field):
    api = field.api(field.responder)
    raw = {**engagement_raw(field), "_status": "updated", "_changed": "beat"}
    answer = wm_push(api, {"engagements": {"created": [], "updated": [raw], "deleted": []}}, None)
    assert answer.json()["results"][0]["op"] == "create"
    assert Engagement.objects.get(pk=raw["id"]).notes == raw["notes"]


def test_an_invalid_row_is_rejected_alone_kept_in_quarantine_and_left_unsynced_on_the_phone(field):
    api = field.api(field.responder)
    good, bad = engagement_raw(field), engagement_raw(field, origin="911_dispatch")  # needs a CAD number
    answer = wm_push(api, {"engagements": {"created": [good, bad], "updated": [], "deleted": []}}, None)
    assert answer.status_code == 200
    body = answer.json()
    assert body["experimentalRejectedIds"] == {"engagements": [bad["id"]]}
    rejected = next(r for r in body["results"] if r["id"] == bad["id"])
    assert rejected["fields"]["cad_number"][0]["code"] == "cad_number_required"
    assert Engagement.objects.filter(pk=good["id"]).exists() and not Engagement.objects.filter(pk=bad["id"]).exists()
    kept = Mutation.objects.get(record_id=bad["id"])
    assert kept.status == "rejected" and kept.payload["fields"]["origin"] == "911_dispatch"
    listed = api.get("/api/v1/sync/quarantine").json()["results"]
    assert [m["id"] for m in listed] == [str(kept.pk)] or bad["id"] in json.dumps(listed)


def test_bad_ids_columns_and_tables_are_a_400_and_apply_nothing(field):
    api = field.api(field.responder)
    good = engagement_raw(field)
    cases = [
        ({"engagements": {"created": [good, {**engagement_raw(field), "id": "k3x9a0"}]}}, "invalid_id"),
        (
            {"engagements": {"created": [good, {**engagement_raw(field), "id": str(uuid.uuid4()).upper()}]}},
            "invalid_id",
        ),
        ({"engagements": {"created": [good, engagement_raw(field, colour="red")]}}, "unknown_column"),
        ({"engagements": {"created": [good]}, "pets": {"created": []}}, "unknown_table"),
        ({"engagements": {"created": [good, dict(good)]}}, "duplicate_id"),
        ({"engagements": {"created": "nope"}}, "invalid_changes"),
        (["not", "an", "object"], "invalid_changes"),
    ]
    for changes, code in cases:
        response = wm_push(api, changes, None)
        assert response.status_code == 400, (code, response.content)
        assert response.json()["code"] == code
    assert not Engagement.objects.exists() and not Mutation.objects.exists()
    assert wm_pull(api, "abc").json()["code"] == "invalid_last_pulled_at"
    assert wm_pull(api, None, migration="{").status_code == 400


def test_deletions_reach_the_other_phone_and_unknown_deletions_are_ignored(tfield):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None)
    last_b = synced(b)["timestamp"]
    pulled = synced(a)
    answer = wm_push(
        a,
        {"engagements": {"created": [], "updated": [], "deleted": [raw["id"], str(uuid.uuid4())]}},
        pulled["timestamp"],
    )
    assert [r["status"] for r in answer.json()["results"]] == ["applied"]
    assert Engagement._base_manager.get(pk=raw["id"]).deleted_at is not None
    wait_for_stable_horizon()
    # The phone learns of a deletion once it has pushed since, so that an edit it made offline is pushed first.
    first = synced(b, last_b)
    assert table(first["changes"])["deleted"] == []
    # Its push is lost (or its pull's answer): the deletion is still held back.
    second = synced(b, first["timestamp"])
    assert table(second["changes"])["deleted"] == []
    assert table(synced(b, first["timestamp"])["changes"])["deleted"] == []  # that pull's answer lost: a retry
    create_engagement(field, b, second["timestamp"])  # a sync whose push completes
    wait_for_stable_horizon()
    assert table(synced(b, second["timestamp"])["changes"])["deleted"] == [raw["id"]]


def test_a_phone_with_nothing_to_push_is_told_of_a_deletion_after_the_grace_time(tfield, settings):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None)
    last_b = synced(b)["timestamp"]
    pulled = synced(a)
    wm_push(a, {"engagements": {"deleted": [raw["id"]]}}, pulled["timestamp"])
    wait_for_stable_horizon()
    first = synced(b, last_b)
    assert table(first["changes"])["deleted"] == []
    second = synced(b, first["timestamp"])
    assert table(second["changes"])["deleted"] == []
    settings.SYNC_WATERMELON_DELETE_GRACE_HOURS = 0
    assert table(synced(b, second["timestamp"])["changes"])["deleted"] == [raw["id"]]


def test_an_offline_edit_to_a_record_deleted_meanwhile_reaches_the_server_before_the_phone_drops_it(tfield):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None)
    b_first = synced(b)
    a_pull = synced(a)
    wm_push(a, {"engagements": {"deleted": [raw["id"]]}}, a_pull["timestamp"])  # a duplicate, A deletes it
    wait_for_stable_horizon()
    # B added to the notes offline; its sync pulls, then pushes.
    b_pull = synced(b, b_first["timestamp"])
    assert table(b_pull["changes"])["deleted"] == []  # WatermelonDB would destroy B's edit with the record
    b_row = edited(pulled_row(b_first, raw["id"]), notes="B: he came back for the blanket")
    answer = wm_push(b, updates(b_row), b_pull["timestamp"]).json()
    assert answer["experimentalRejectedIds"] == {"engagements": [raw["id"]]}
    kept = Mutation.objects.get(record_id=raw["id"], device__user=field.partner, status="rejected")
    assert kept.payload["fields"]["notes"] == "B: he came back for the blanket"
    wait_for_stable_horizon()
    assert table(synced(b, b_pull["timestamp"])["changes"])["deleted"] == [raw["id"]]


def test_a_team_that_leaves_the_scope_is_deleted_from_the_phone(field):
    a = field.api(field.responder)
    raw = create_engagement(field, field.api(field.partner), None)
    last = synced(a)["timestamp"]
    Membership.objects.filter(user=field.responder).update(team=field.team_b)
    body = synced(a, last)
    assert raw["id"] in table(body["changes"])["deleted"]


def test_a_new_role_replaces_the_phones_copy(field):
    api = field.api(field.interrupter)
    last = synced(api)["timestamp"]
    Membership.objects.filter(user=field.interrupter).update(role=Role.COORDINATOR)
    assert synced(api, last).get("experimentalStrategy") == "replacement"


def test_police_case_numbers_stay_hidden_and_a_hidden_column_pushed_back_is_not_a_value(field):
    coordinator, interrupter = field.api(field.coordinator), field.api(field.interrupter)
    incident = {
        "id": str(uuid.uuid4()),
        "dvp_number": "DVP-26-0042",
        "kind": "shooting",
        "occurred_at": int(timezone.now().timestamp() * 1000),
        "police_case_number": "OPD-26-1234",
        "team_id": field.team_d.pk,
    }
    answer = wm_push(coordinator, {"incidents": {"created": [incident]}}, None)
    assert answer.json()["experimentalRejectedIds"] == {}, answer.json()
    body = synced(interrupter)
    row = pulled_row(body, incident["id"], "incidents")
    assert "police_case_number" not in row
    assert_matches_schema(row, "incidents")
    # WatermelonDB fills the missing column with null and sends it back with the interrupter's edit.
    mine = {**row, "police_case_number": None, "notes": "Family asked for a call back.", "_status": "updated"}
    mine["_changed"] = "notes"
    answer = wm_push(interrupter, {"incidents": {"updated": [mine]}}, body["timestamp"])
    assert answer.json()["experimentalRejectedIds"] == {}, answer.json()
    stored = Incident.objects.get(pk=incident["id"])
    assert stored.police_case_number == "OPD-26-1234" and "call back" in stored.notes
    assert not table(synced(field.api(field.responder))["changes"], "incidents")["created"]  # MACRO sees no DVP


def test_migration_sync_sends_the_new_tables_whole(field):
    api = field.api(field.responder)
    raw = create_engagement(field, api, None)
    last = synced(api)["timestamp"]
    body = wm_pull(api, last, migration={"from": 1, "tables": ["engagements"], "columns": []}).json()
    assert raw["id"] in [r["id"] for r in table(body["changes"])["updated"]]
    sent = AuditEvent.objects.filter(action=AuditEvent.Action.SYNC_PULL, actor=field.responder).order_by("-id")
    assert sent.first().detail["records"] == 1  # what the migration sent is audited like any pull
    assert not table(synced(api, body["timestamp"])["changes"])["updated"]


def test_an_unknown_or_purged_position_tells_the_phone_to_reset(field):
    api = field.api(field.responder)
    other = field.api(field.partner)
    assert wm_pull(api, synced(other)["timestamp"]).status_code == 410  # another device's checkpoint
    raw = create_engagement(field, api, None)
    last = synced(api)["timestamp"]
    wm_push(api, {"engagements": {"deleted": [raw["id"]]}}, last)
    tombstones_purge(older_than=timezone.now() + timedelta(seconds=1))
    response = wm_pull(api, last)
    assert response.status_code == 410
    assert response.json()["code"] == "reset_required"
    assert "unsafeResetDatabase" in response.json()["message"]


def test_a_row_created_without_team_id_goes_to_the_users_only_team(field):
    # WatermelonDB gives an unset number column 0 (or null when optional): neither is a team.
    api = field.api(field.responder)
    for team in (0, None):
        raw = engagement_raw(field, team_id=team)
        answer = wm_push(api, {"engagements": {"created": [raw]}}, None)
        assert answer.json()["experimentalRejectedIds"] == {}, answer.json()
        assert Engagement.objects.get(pk=raw["id"]).team == field.team_a


def test_json_text_too_deep_or_holding_nul_rejects_the_row_not_the_server(field):
    api = field.api(field.responder)
    deep, nul = engagement_raw(field, needs="[" * 100000 + "]" * 100000), engagement_raw(field, needs='["\\u0000"]')
    answer = wm_push(api, {"engagements": {"created": [deep, nul]}}, None)
    assert answer.status_code == 200, answer.content
    assert sorted(answer.json()["experimentalRejectedIds"]["engagements"]) == sorted([deep["id"], nul["id"]])
    assert api.get(PULL, {"last_pulled_at": "null", "migration": "[" * 100000}).status_code == 400


def test_a_delete_of_a_record_someone_changed_since_the_phone_pushed_it_is_a_conflict(field):
    a = field.api(field.responder)
    raw = create_engagement(field, a, None)
    record = Engagement.objects.get(pk=raw["id"])
    native = field.api(field.partner)  # another phone, on the native protocol
    edit = mutation(1, op="update", record_id=record.pk, fields={"disposition": "transported"}, base_version=1)
    assert push(native, edit).json()["results"][0]["status"] == "applied"

    answer = wm_push(a, {"engagements": {"deleted": [raw["id"]]}}, None)
    assert answer.json()["results"][0]["status"] == "conflict", answer.json()
    record.refresh_from_db()
    assert record.deleted_at is None and record.disposition == "transported"
    assert Conflict.objects.filter(record_id=record.pk, field="_deleted").exists()


def _b_pulls_a_new_disposition(field):
    """A creates an engagement, B gets it, A sets its disposition, and B's next sync pulls A's value."""
    a, b = field.api(field.responder), field.api(field.partner)
    raw = create_engagement(field, a, None, disposition="")
    first_b = synced(b)
    a_pull = synced(a)
    wm_push(a, updates(edited(pulled_row(a_pull, raw["id"]), disposition="resolved_on_scene")), a_pull["timestamp"])
    wait_for_stable_horizon()
    return raw, b, synced(b, first_b["timestamp"])


def _edit_offline_then_lose_a_push(field, kept):
    """A changes the disposition; B, which had edited the disposition offline before, pulls A's version, loses
    its push (network gone), and syncs again later: pull (nothing new), then push."""
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    pulled = pulled_row(b_pull, raw["id"])
    assert pulled["server_version"] == 2
    # WatermelonDB applies the pulled row under B's edit; with the documented conflictResolver the row keeps
    # the server_version B's edit started from.
    b_row = {**pulled, "disposition": "transported", "_status": "updated", "_changed": "disposition"}
    if kept:
        b_row["server_version"] = 1
    # (The push of this sync never reached the server.)
    wait_for_stable_horizon()
    later = synced(b, b_pull["timestamp"])
    suffix = "&server_version=kept" if kept else ""
    answer = b.post(
        f"{PUSH}?last_pulled_at={later['timestamp']}{suffix}",
        {"engagements": {"created": [], "updated": [b_row], "deleted": []}},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    return raw, answer.json()


def test_an_edit_older_than_an_earlier_pull_whose_push_was_lost_is_a_conflict_not_an_overwrite(tfield):
    raw, body = _edit_offline_then_lose_a_push(tfield, kept=False)
    assert body["results"][0]["status"] == "conflict", body
    assert Engagement.objects.get(pk=raw["id"]).disposition == "resolved_on_scene"
    conflict = Conflict.objects.get(record_id=raw["id"], field="disposition")
    assert conflict.incoming_value == "transported"


def test_with_the_kept_server_version_the_row_says_its_base_after_a_lost_push(tfield):
    raw, body = _edit_offline_then_lose_a_push(tfield, kept=True)
    assert body["results"][0]["status"] == "conflict", body
    assert Engagement.objects.get(pk=raw["id"]).disposition == "resolved_on_scene"


def test_with_the_kept_server_version_an_edit_after_the_pull_is_no_conflict(tfield):
    """The same sync's pull brought the newer value, the user then changed it: the row's server_version is
    the pulled one, so the edit started from it (without the resolver this is taken as a conflict)."""
    field = tfield
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    b_row = edited(pulled_row(b_pull, raw["id"]), disposition="transported")
    answer = b.post(
        f"{PUSH}?last_pulled_at={b_pull['timestamp']}&server_version=kept",
        {"engagements": {"created": [], "updated": [b_row], "deleted": []}},
        format="json",
    )
    assert answer.json()["results"][0]["status"] == "applied", answer.json()
    assert Engagement.objects.get(pk=raw["id"]).disposition == "transported"
    assert not Conflict.objects.filter(record_id=raw["id"]).exists()


def test_an_edit_after_a_completed_push_starts_from_what_that_sync_pulled(tfield):
    """Once the device has completed a push after getting a version, a later edit is based on that version."""
    field = tfield
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    row = pulled_row(b_pull, raw["id"])
    create_engagement(field, b, b_pull["timestamp"])  # B's sync pushed something else: its push completed
    wait_for_stable_horizon()
    b_later = synced(b, b_pull["timestamp"])
    answer = wm_push(b, updates(edited(row, disposition="transported")), b_later["timestamp"])
    assert answer.json()["results"][0]["status"] == "applied", answer.json()
    assert not Conflict.objects.filter(record_id=raw["id"]).exists()


def test_a_refused_delete_and_a_refused_edit_come_back_to_the_phone_on_its_next_pull(tfield):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    kept, edited_away = create_engagement(field, a, None), create_engagement(field, a, None, disposition="")
    b_first = synced(b)
    a_pull = synced(a)
    for rid, change in ((kept["id"], {"beat": "21Z"}), (edited_away["id"], {"disposition": "resolved_on_scene"})):
        wm_push(a, updates(edited(pulled_row(a_pull, rid), **change)), a_pull["timestamp"])
    # B deleted one and edited the other's disposition offline, from the first versions; its sync pulls A's
    # edits, then pushes. The delete of a record changed since is a conflict, and so is the edit.
    wait_for_stable_horizon()
    b_pull = synced(b, b_first["timestamp"])
    b_row = edited(pulled_row(b_pull, edited_away["id"]), disposition="transported")
    changes = {"engagements": {"created": [], "updated": [b_row], "deleted": [kept["id"]]}}
    answer = wm_push(b, changes, b_pull["timestamp"])
    assert {r["id"]: r["status"] for r in answer.json()["results"]} == {
        kept["id"]: "conflict",
        edited_away["id"]: "conflict",
    }, answer.json()
    # WatermelonDB marked both as synced: B destroyed its copy of one and holds the losing value in the other.
    # (Had the answer been lost, B would still hold the deleted one marked as deleted: it is listed in `deleted`
    # first, which removes it in both cases, and sent back in `created` by the pull after.)
    wait_for_stable_horizon()
    after = synced(b, b_pull["timestamp"])
    back = after["changes"]["engagements"]
    assert back["deleted"] == [kept["id"]] and back["created"] == []
    assert [r["id"] for r in back["updated"]] == [edited_away["id"]]
    assert back["updated"][0]["disposition"] == "resolved_on_scene"
    back = synced(b, after["timestamp"])["changes"]["engagements"]
    assert [r["id"] for r in back["created"]] == [kept["id"]] and back["deleted"] == []
    assert back["created"][0]["server_version"] == Engagement.objects.get(pk=kept["id"]).version


def test_a_rejected_row_sent_again_unchanged_gets_the_same_answer_and_one_quarantine_item(tfield):
    field = tfield
    api = field.api(field.responder)
    bad = engagement_raw(field, origin="911_dispatch")  # needs a CAD number
    changes = {"engagements": {"created": [bad], "updated": [], "deleted": []}}
    before = synced(api)["timestamp"]
    first = wm_push(api, changes, before).json()
    last = synced(api, before)["timestamp"]
    again = wm_push(api, changes, last).json()  # WatermelonDB sends what was rejected at every sync
    assert first["experimentalRejectedIds"] == again["experimentalRejectedIds"] == {"engagements": [bad["id"]]}
    assert again["results"][0]["fields"] == first["results"][0]["fields"]
    assert Mutation.objects.filter(record_id=bad["id"]).count() == 1

    wait_for_stable_horizon()
    fixed = {**bad, "cad_number": "C-2026-0001"}  # the responder fixed it: a new row, tried again
    answer = wm_push(api, {"engagements": {"created": [fixed], "updated": [], "deleted": []}}, last).json()
    assert answer["experimentalRejectedIds"] == {}
    assert Engagement.objects.filter(pk=bad["id"]).exists()


def test_a_dismissed_rejection_is_settled_on_the_phone(tfield, settings):
    field = tfield
    api = field.api(field.responder)
    last = synced(api)["timestamp"]
    bad = engagement_raw(field, origin="911_dispatch")
    changes = {"engagements": {"created": [bad], "updated": [], "deleted": []}}
    wm_push(api, changes, last)
    kept = Mutation.objects.get(record_id=bad["id"])
    supervisor = field.api(field.supervisor)
    assert supervisor.post(f"/api/v1/sync/quarantine/{kept.pk}/dismiss").status_code in (200, 204)

    answer = wm_push(api, changes, last).json()
    assert answer["experimentalRejectedIds"] == {}
    assert answer["results"][0]["status"] == "dismissed"
    assert Mutation.objects.filter(record_id=bad["id"]).count() == 1
    # The record the supervisor dismissed is not on the server: the phone's copy goes.
    wait_for_stable_horizon()
    # (Listed as a deletion once the phone has pushed since, or after the grace time: here none.)
    settings.SYNC_WATERMELON_DELETE_GRACE_HOURS = 0
    first = synced(api, last)
    assert first["changes"]["engagements"]["deleted"] == []
    assert synced(api, first["timestamp"])["changes"]["engagements"]["deleted"] == [bad["id"]]


def test_deleting_a_record_of_another_team_is_ignored_like_an_unknown_id(field):
    other = field.api(field.other_team)
    theirs = create_engagement(field, other, None, team_id=field.team_b.pk)
    api = field.api(field.responder)
    unknown = str(uuid.uuid4())
    answer = wm_push(api, {"engagements": {"created": [], "updated": [], "deleted": [theirs["id"], unknown]}}, None)
    assert answer.status_code == 200 and answer.json()["results"] == []
    assert Engagement.objects.get(pk=theirs["id"]).deleted_at is None


def test_gps_with_more_decimals_than_stored_is_rounded_and_an_unset_time_is_not_1970(field):
    api = field.api(field.responder)
    raw = engagement_raw(field, latitude=37.80441234567, longitude=-122.27111987654)
    answer = wm_push(api, {"engagements": {"created": [raw], "updated": [], "deleted": []}}, None)
    assert answer.json()["experimentalRejectedIds"] == {}, answer.json()
    record = Engagement.objects.get(pk=raw["id"])
    assert str(record.latitude) == "37.804412" and str(record.longitude) == "-122.271120"
    huge = engagement_raw(field, latitude=1e300, longitude=1.0)
    answer = wm_push(api, {"engagements": {"created": [huge], "updated": [], "deleted": []}}, None)
    assert answer.status_code == 200 and answer.json()["experimentalRejectedIds"] == {"engagements": [huge["id"]]}

    # occurred_at is required; WatermelonDB sends 0 for a number column the app never set.
    incident = {"id": str(uuid.uuid4()), "dvp_number": "DVP-26-0043", "kind": "shooting", "occurred_at": 0,
                "team_id": field.team_d.pk}  # fmt: skip
    answer = wm_push(field.api(field.coordinator), {"incidents": {"created": [incident]}}, None).json()
    assert answer["experimentalRejectedIds"] == {"incidents": [incident["id"]]}
    assert "occurred_at" in answer["results"][0]["fields"], answer


def test_odd_server_versions_in_a_kept_push_are_no_base_and_no_server_error(tfield):
    """The row's server_version is compared with a shadow that has a prior state (a pull brought a newer
    version): odd values are no version, and never a server error."""
    field = tfield
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    pulled = pulled_row(b_pull, raw["id"])
    for odd in ("2", 2.5, -1, 0, 2**70, True, None, [1], {"v": 1}, 1e308):
        row = {**pulled, "server_version": odd, "beat": "77Q", "_status": "updated", "_changed": "beat"}
        answer = b.post(
            f"{PUSH}?last_pulled_at={b_pull['timestamp']}&server_version=kept",
            {"engagements": {"created": [], "updated": [row], "deleted": []}},
            format="json",
        )
        assert answer.status_code == 200, (odd, answer.content)
        status = answer.json()["results"][0]["status"]
        assert status in ("applied", "unchanged", "merged", "conflict"), (odd, answer.json())


@pytest.mark.parametrize("kept", [True, False])
def test_two_pulls_of_newer_versions_before_the_push_lands_still_keep_the_colleagues_value(tfield, kept):
    """B set the disposition offline on v1. Sync 1 pulls A's disposition (v2) and loses its push; A then
    changes only the notes (v3); sync 2 pulls v3 and pushes B's edit. The base is v1, not v2."""
    field = tfield
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    a = field.api(field.responder)
    a_pull = synced(a)
    wm_push(a, updates(edited(pulled_row(a_pull, raw["id"]), notes="A: second visit")), a_pull["timestamp"])
    wait_for_stable_horizon()
    later = synced(b, b_pull["timestamp"])
    pulled = pulled_row(later, raw["id"])
    assert pulled["server_version"] == 3
    b_row = {**pulled, "disposition": "transported", "_status": "updated", "_changed": "disposition"}
    if kept:
        b_row["server_version"] = 1  # the documented resolver kept it through both pulls
    query = f"last_pulled_at={later['timestamp']}" + ("&server_version=kept" if kept else "")
    answer = b.post(f"{PUSH}?{query}", updates(b_row), format="json")
    assert answer.json()["results"][0]["status"] == "conflict", answer.json()
    record = Engagement.objects.get(pk=raw["id"])
    assert record.disposition == "resolved_on_scene" and record.notes.endswith("A: second visit")
    assert Conflict.objects.get(record_id=raw["id"], field="disposition").incoming_value == "transported"


def test_a_deletion_after_a_refused_edit_is_also_held_back_and_old_shadows_deliver_deletions(tfield):
    field = tfield
    raw, b, b_pull = _b_pulls_a_new_disposition(field)
    # B's edit came first, so it is a conflict: the record is to be sent to B again.
    b_row = edited(pulled_row(b_pull, raw["id"]), disposition="transported", server_version=1)
    answer = b.post(
        f"{PUSH}?last_pulled_at={b_pull['timestamp']}&server_version=kept", updates(b_row), format="json"
    ).json()
    assert answer["results"][0]["status"] == "conflict", answer
    WatermelonShadow.objects.filter(record_id=raw["id"]).update(record_type="")  # as before migration 0005
    c = field.api(field.responder)
    c_pull = synced(c)
    assert wm_push(c, {"engagements": {"deleted": [raw["id"]]}}, c_pull["timestamp"]).json()["results"]
    wait_for_stable_horizon()
    first = synced(b, b_pull["timestamp"])
    assert table(first["changes"])["deleted"] == []  # B may have edited it again since its push
    create_engagement(field, b, first["timestamp"])
    wait_for_stable_horizon()
    assert table(synced(b, first["timestamp"])["changes"])["deleted"] == [raw["id"]]


def test_a_retried_pull_sends_a_record_the_lost_answer_brought_as_created(tfield):
    field = tfield
    a, b = field.api(field.responder), field.api(field.partner)
    b_first = synced(b)
    raw = create_engagement(field, a, None)
    wait_for_stable_horizon()
    lost = synced(b, b_first["timestamp"])
    assert [r["id"] for r in table(lost["changes"])["created"]] == [raw["id"]]
    retry = synced(b, b_first["timestamp"])  # the phone never got that answer
    assert [r["id"] for r in table(retry["changes"])["created"]] == [raw["id"]]
    assert table(retry["changes"])["updated"] == []


def test_a_first_sync_comes_in_bounded_answers_and_a_change_meanwhile_arrives_as_updated(tfield, settings):
    """Issue 15, item 6: answers of at most SYNC_WATERMELON_PULL_PAGE records with has_more until the last;
    every record once; a record changed between two answers comes again, in `updated` (the phone holds it)."""
    field = tfield
    settings.SYNC_WATERMELON_PULL_PAGE = 3
    a = field.api(field.responder)
    made = [create_engagement(field, a, None)["id"] for _ in range(8)]
    wait_for_stable_horizon()  # else the stream sends again, in `updated`, what the first answer's backfill sent
    b = field.api(field.partner)
    answers, last = [], None
    while True:
        body = synced(b, last)
        answers.append(body)
        last = body["timestamp"]
        if len(answers) == 1:
            first_id = table(body["changes"])["created"][0]["id"]
            a_pull = synced(a)
            wm_push(a, updates(edited(pulled_row(a_pull, first_id), beat="20Y")), a_pull["timestamp"])
            wait_for_stable_horizon()
        if not body.get("has_more"):
            break
    assert all(len(table(x["changes"])["created"]) + len(table(x["changes"])["updated"]) <= 3 for x in answers)
    assert [bool(x.get("has_more")) for x in answers] == [True] * (len(answers) - 1) + [False]
    created = [r["id"] for x in answers for r in table(x["changes"])["created"]]
    assert sorted(created) == sorted(made) and len(created) == len(set(created))
    updated = [r for x in answers for r in table(x["changes"])["updated"]]
    assert [(r["id"], r["beat"]) for r in updated] == [(first_id, "20Y")]
    assert all(not table(x["changes"])["deleted"] for x in answers)


def test_rows_to_send_again_after_a_large_push_also_come_in_bounded_answers(tfield, settings):
    """Every created row comes back once (the phone holds server_version 0): after a large push, these too
    come at most SYNC_WATERMELON_PULL_PAGE at a time."""
    field = tfield
    settings.SYNC_WATERMELON_PULL_PAGE = 4
    api = field.api(field.responder)
    last = synced(api)["timestamp"]
    rows = [engagement_raw(field) for _ in range(10)]
    assert wm_push(api, {"engagements": {"created": rows, "updated": [], "deleted": []}}, last).status_code == 200
    seen, answers = [], 0
    while True:
        body = synced(api, last)
        answers += 1
        part = table(body["changes"])
        assert len(part["created"]) + len(part["updated"]) <= 4 and part["created"] == []
        seen += [(r["id"], r["server_version"]) for r in part["updated"]]
        last = body["timestamp"]
        if not body.get("has_more"):
            break
    assert sorted(seen) == sorted((r["id"], 1) for r in rows) and answers >= 3


def test_two_pulls_of_one_phone_at_the_same_time_both_answer(tfield):
    """Overlapping synchronize() calls: two pulls of one device from the same timestamp, in two real concurrent
    transactions. Both answer 200 with the same records; the phone keeps one of them and goes on from it."""
    import threading

    from django.db import connection

    field = tfield
    a = field.api(field.responder)
    first = synced(a)
    for _ in range(30):
        create_engagement(field, a, first["timestamp"])
    wait_for_stable_horizon()
    device = a.device
    barrier, answers = threading.Barrier(2), []

    def pull_once():
        try:
            api = field.api(field.responder, device)
            barrier.wait(timeout=10)
            answers.append(wm_pull(api, first["timestamp"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=pull_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [r.status_code for r in answers] == [200, 200], [r.content[:300] for r in answers]
    ids = [sorted(r["id"] for r in table(x.json()["changes"])["updated"]) for x in answers]
    assert ids[0] == ids[1] and len(ids[0]) == 30
    kept = min(x.json()["timestamp"] for x in answers)  # WatermelonDB applies the first and aborts the other
    after = synced(a, kept)
    assert table(after["changes"])["created"] == []
