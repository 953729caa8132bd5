"""The WatermelonDB adapter against a phone that applies pulls and marks pushes as WatermelonDB 0.28 does.

`Phone` follows @nozbe/watermelondb's sync (sync/impl/applyRemote.js, helpers.js, markAsSynced.js): a pulled
row replaces a synced local row; over a locally edited one the locally changed columns win and the documented
conflictResolver keeps the local server_version; a row pushed is marked synced only when the answer arrives.
It logs WatermelonDB's `[Sync]` messages where WatermelonDB would. The real client runs in
test_watermelon_e2e.py; this one lets a test lose exactly one answer and look at every column.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import ContactAttempt, Engagement, FollowUpCase
from records.registry import get_spec
from records.wire import to_wire
from sync.watermelon import encode, schema
from tests.support import wait_for_stable_horizon

PULL, PUSH = "/api/v1/sync/watermelon/pull", "/api/v1/sync/watermelon/push"
TABLES = [t["name"] for t in schema()["tables"]]
COLUMNS = {t["name"]: t["columns"] for t in schema()["tables"]}
TYPES = {"engagements": "engagement", "follow_up_cases": "follow_up_case", "contact_attempts": "contact_attempt"}


class Phone:
    def __init__(self, api):
        self.api = api
        self.rows = {t: {} for t in TABLES}  # id -> raw with _status and _changed
        self.last = None
        self.messages = []

    # --- local writes, as the app makes them ---
    def create(self, table, **columns):
        rid = str(uuid.uuid4())
        # WatermelonDB's sanitizedRaw: every column of the schema, unset ones empty (null where optional).
        empty = {"string": "", "number": 0, "boolean": False}
        raw = {c["name"]: None if c.get("isOptional") else empty[c["type"]] for c in COLUMNS[table]}
        self.rows[table][rid] = {"id": rid, **raw, **columns, "_status": "created", "_changed": ""}
        return rid

    def edit(self, table, rid, **columns):
        row = self.rows[table][rid]
        row.update(columns)
        if row["_status"] == "synced":
            row["_status"] = "updated"
        if row["_status"] == "updated":
            changed = [c for c in row["_changed"].split(",") if c]
            row["_changed"] = ",".join(changed + [c for c in columns if c not in changed])

    def delete(self, table, rid):
        row = self.rows[table][rid]
        if row["_status"] == "created":
            del self.rows[table][rid]
        else:
            row["_status"] = "deleted"

    # --- synchronize() ---
    def pull(self):
        last = "null" if self.last is None else self.last
        response = self.api.get(PULL, {"last_pulled_at": last, "schema_version": 1})
        assert response.status_code == 200, response.content
        return response.json()

    def apply(self, body):
        for table, part in body["changes"].items():
            rows = self.rows[table]
            for remote in part["created"]:
                local = rows.get(remote["id"])
                if local is not None and local["_status"] == "deleted":
                    self.messages.append(f"[Sync] create {table}#{remote['id']}: exists locally and marked as deleted")
                    rows[remote["id"]] = {**remote, "_status": "synced", "_changed": ""}
                elif local is not None:
                    self.messages.append(f"[Sync] create {table}#{remote['id']}: already exists locally")
                    self._update(rows, local, remote)
                else:
                    rows[remote["id"]] = {**remote, "_status": "synced", "_changed": ""}
            for remote in part["updated"]:
                local = rows.get(remote["id"])
                if local is None:
                    self.messages.append(f"[Sync] update {table}#{remote['id']}: does not exist locally")
                    rows[remote["id"]] = {**remote, "_status": "synced", "_changed": ""}
                elif local["_status"] != "deleted":
                    self._update(rows, local, remote)
            for rid in part["deleted"]:
                rows.pop(rid, None)
        self.last = body["timestamp"]

    @staticmethod
    def _update(rows, local, remote):
        if local["_status"] == "synced":
            rows[local["id"]] = {**remote, "_status": "synced", "_changed": ""}
            return
        resolved = {**local, **remote, "_status": local["_status"], "_changed": local["_changed"]}
        for column in [c for c in local["_changed"].split(",") if c]:
            resolved[column] = local[column]
        resolved["server_version"] = local["server_version"]  # docs/watermelondb.md's conflictResolver
        rows[local["id"]] = resolved

    def local_changes(self):
        changes = {}
        for table, rows in self.rows.items():
            part = {"created": [], "updated": [], "deleted": []}
            for rid, row in rows.items():
                if row["_status"] in ("created", "updated"):
                    part[row["_status"]].append(dict(row))
                elif row["_status"] == "deleted":
                    part["deleted"].append(rid)
            if any(part.values()):
                changes[table] = part
        return changes

    def push(self, changes, lose_answer=False):
        response = self.api.post(f"{PUSH}?last_pulled_at={self.last}&server_version=kept", changes, format="json")
        assert response.status_code == 200, response.content
        if lose_answer:
            return response.json()
        body = response.json()
        for table, part in changes.items():
            rejected = set(body["experimentalRejectedIds"].get(table, []))
            for raw in part["created"] + part["updated"]:
                row = self.rows[table].get(raw["id"])
                if row is not None and row == raw and raw["id"] not in rejected:
                    row.update(_status="synced", _changed="")
            for rid in part["deleted"]:
                if rid not in rejected:
                    self.rows[table].pop(rid, None)
        return body

    def sync(self, lose_answer=False):
        wait_for_stable_horizon()
        self.apply(self.pull())
        changes = self.local_changes()
        return self.push(changes, lose_answer) if changes else None

    def synced_rows(self, table):
        rows = self.rows[table].items()
        return {rid: {k: v for k, v in row.items() if k not in ("_status", "_changed")} for rid, row in rows}


def server_rows(table, user):
    spec = get_spec(TYPES[table])
    return {
        str(r.pk): encode(spec, to_wire(spec, r, user))
        for r in spec.model.objects.filter(deleted_at__isnull=True).select_related("program")
    }


def assert_equal_to_server(phone, table, user):
    assert phone.messages == []
    mine, server = phone.synced_rows(table), server_rows(table, user)
    assert set(mine) == set(server)
    for rid, expected in server.items():
        differing = {k: (mine[rid].get(k), v) for k, v in expected.items() if mine[rid].get(k) != v}
        assert not differing, (rid, differing)
        assert all(row["_status"] == "synced" for row in phone.rows[table].values())


def engagement(field, **columns):
    return {"origin": "on_view", "beat": "19X", "notes": "Checked on a man at the bus shelter.", "needs": '["housing"]',
            "supplies": '{"water":2}', "team_id": field.team_a.pk, **columns}  # fmt: skip


@pytest.mark.serial
def test_a_merged_push_whose_answer_was_lost_ends_with_the_server_text_on_the_phone(tfield):
    """Issue 15, item 1: the re-push of a row the server already merged changes nothing on the server, and the
    phone must still end up with the merged text and the current server_version."""
    field = tfield
    a, b = Phone(field.api(field.responder)), Phone(field.api(field.partner))
    rid = a.create("engagements", **engagement(field))
    a.sync()
    b.sync()
    a.sync()  # the echo of its own create
    b.edit("engagements", rid, notes=b.rows["engagements"][rid]["notes"] + "\nB: he declined a ride")
    a.edit("engagements", rid, notes=a.rows["engagements"][rid]["notes"] + "\nA: left water at the shelter")
    b.sync()
    answer = a.sync(lose_answer=True)  # pulls B's notes under its own edit, the server merges, the answer is lost
    assert answer["results"][0]["status"] in ("merged", "conflict"), answer
    a.sync()  # pulls the merged record under its still unsynced edit, pushes the same row again
    a.sync()
    b.sync()
    record = Engagement.objects.get(pk=rid)
    assert a.rows["engagements"][rid]["notes"] == record.notes
    assert a.rows["engagements"][rid]["server_version"] == record.version
    assert_equal_to_server(a, "engagements", field.responder)
    assert_equal_to_server(b, "engagements", field.partner)


@pytest.mark.serial
def test_a_created_row_whose_answer_was_lost_gets_its_server_version(tfield):
    """Issue 15, item 2: values equal, but the phone kept server_version 0 after every later sync."""
    field = tfield
    a = Phone(field.api(field.responder))
    a.sync()
    rid = a.create("engagements", **engagement(field))
    a.sync(lose_answer=True)
    a.sync()  # pulls its own record under the unsynced create, pushes the create again, marks it synced
    a.sync()
    assert a.rows["engagements"][rid]["server_version"] == Engagement.objects.get(pk=rid).version == 1
    assert_equal_to_server(a, "engagements", field.responder)


@pytest.mark.serial
def test_a_contact_attempt_pushed_with_its_new_case_is_not_sent_back_as_created(tfield):
    """Issue 15, item 3: WatermelonDB said "Server wants client to create record contact_attempts#…, but it
    already exists locally"."""
    field = tfield
    phone = Phone(field.api(field.interrupter))
    phone.sync()
    due = (timezone.now() + timedelta(days=3)).date().isoformat()
    case = phone.create("follow_up_cases", persons="[]", incidents="[]", status="open", next_contact_due=due,
                        notes="Brother of the victim.", team_id=field.team_d.pk)  # fmt: skip
    now = int(timezone.now().timestamp() * 1000)
    attempt = phone.create("contact_attempts", case_id=case, mode="in_person", made=True, outcome="reached",
                           attempted_at=now, notes="", team_id=field.team_d.pk)  # fmt: skip
    answer = phone.sync()
    assert answer["experimentalRejectedIds"] == {}, answer
    assert FollowUpCase.objects.filter(pk=case).exists() and ContactAttempt.objects.filter(pk=attempt).exists()
    phone.sync()
    phone.sync()
    assert_equal_to_server(phone, "contact_attempts", field.interrupter)
    assert_equal_to_server(phone, "follow_up_cases", field.interrupter)


@pytest.mark.serial
def test_a_refused_delete_whose_answer_was_lost_comes_back_without_a_sync_message(tfield):
    """Issue 15, item 3 (second message): "… already exists locally and is marked as deleted"."""
    field = tfield
    a, b = Phone(field.api(field.responder)), Phone(field.api(field.partner))
    rid = a.create("engagements", **engagement(field))
    a.sync()
    b.sync()
    a.sync()
    b.edit("engagements", rid, disposition="transported")
    b.sync()
    a.delete("engagements", rid)
    answer = a.sync(lose_answer=True)  # pulls B's edit; the delete of a record changed since is refused
    assert answer["results"][0]["status"] == "conflict", answer
    for _ in range(3):
        a.sync()
    assert Engagement.objects.get(pk=rid).deleted_at is None
    assert_equal_to_server(a, "engagements", field.responder)


@pytest.mark.serial
def test_a_refused_delete_whose_answer_arrived_comes_back_without_a_sync_message(tfield):
    field = tfield
    a, b = Phone(field.api(field.responder)), Phone(field.api(field.partner))
    rid = a.create("engagements", **engagement(field))
    a.sync()
    b.sync()
    a.sync()
    b.edit("engagements", rid, disposition="transported")
    b.sync()
    a.delete("engagements", rid)
    assert a.sync()["results"][0]["status"] == "conflict"
    assert rid not in a.rows["engagements"]
    for _ in range(3):
        a.sync()
    assert_equal_to_server(a, "engagements", field.responder)


@pytest.mark.serial
def test_overlapping_syncs_leave_the_server_knowing_what_the_phone_holds(tfield):
    """Two synchronize() calls at once: both pull from the same timestamp, WatermelonDB applies the first answer
    and aborts the second, whose pull the server ran after the first sync's push. A record the first answer
    brought must still count as held: its next change comes in `updated`, not "already exists locally"."""
    field = tfield
    a, b = Phone(field.api(field.responder)), Phone(field.api(field.partner))
    a.sync()
    rid = b.create("engagements", **engagement(field))
    b.sync()
    wait_for_stable_horizon()
    from_timestamp = a.last
    a.apply(a.pull())  # the first call's answer, applied
    aborted = a.api.get(PULL, {"last_pulled_at": from_timestamp, "schema_version": 1})  # the second call's pull
    assert aborted.status_code == 200
    b.edit("engagements", rid, beat="20Y")
    b.sync()
    a.sync()
    assert a.rows["engagements"][rid]["beat"] == "20Y"
    assert_equal_to_server(a, "engagements", field.responder)
