"""Property-based test of the whole sync promise, on real PostgreSQL through the real API.

Several devices of two responders and a program-wide supervisor edit offline,
push with responses dropped, batches duplicated, reordered and sent
concurrently, while records move between teams, a responder changes team,
and tombstones are purged. The phones behave as docs/sync-protocol.md tells
them to: each edit sends only the fields the person changed on what the phone
shows (the last pull with the phone's own edits on top), with the base version
of its last pull, so several edits of one record between two pulls share one
base; a record created offline is edited with no base; after a lost answer the
phone sends the same outbox again, and it pulls only after its push was
answered. After everyone syncs:
  - each device holds exactly the server's view of its user's scope;
  - every mutation any device made is accounted for on the server
    (applied, unchanged, merged, conflict, amendment or rejected-and-kept), none pending;
  - every field value a device wrote is the current value, or was changed later
    by an edit made on a phone that showed it, or is summed into a count exactly,
    or is kept in a conflict or quarantine record;
  - every push answer a device received agrees with what the server stored;
  - no record or mutation exists twice.

CI runs a fixed seed with a bounded number of examples;
make test-long runs 10,000 examples, as ten runs of 1,000 with their own random seeds (scripts/test-long.sh):
every example adds its own world to the test database, and one process for all of them slows down as it fills.
"""

import os
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from incidents.models import Engagement
from records.access import get_for_write
from records.models import Conflict, RecordVersion
from records.registry import get_spec
from records.wire import to_wire
from records.writes import WriteContext, record_create, record_move
from responders import selectors
from responders.models import Membership, Role
from sync.client import PROTOCOL, SyncError
from sync.models import Mutation
from sync.services import tombstones_purge
from tests.support import Field, wait_for_stable_horizon

EXAMPLES = int(os.environ.get("SYNC_STATEFUL_EXAMPLES", "12"))
STEPS = int(os.environ.get("SYNC_STATEFUL_STEPS", "40"))

NEEDS = ["housing", "medical", "mental_health", "basic_needs", "conflict"]
DISPOSITIONS = ["resolved_on_scene", "referred", "transported", "declined_services"]

SUPPLIES = ["water", "food", "hygiene_kit"]
# What a person does to a record on the phone; the phone turns it into the fields that changed.
edits = st.tuples(st.sampled_from(["need", "give", "note", "disposition", "beat", "invalid"]), st.integers(0, 99))


def changed_fields(view, kind, n, unique):
    """The fields a phone sends for an edit made on what it shows (None: nothing changed)."""
    if kind == "need":  # tick or untick one need
        need, needs = NEEDS[n % len(NEEDS)], list(view.get("needs") or [])
        return {"needs": [x for x in needs if x != need] if need in needs else [*needs, need]}
    if kind == "give":  # hand out one to three of something: the count shown goes up
        supplies, key = dict(view.get("supplies") or {}), SUPPLIES[n % len(SUPPLIES)]
        supplies[key] = supplies.get(key, 0) + 1 + n % 3
        return {"supplies": supplies}
    if kind == "note":  # add a sentence to the notes
        return {"notes": f"{view.get('notes') or ''} Note {unique}.".strip()}
    if kind == "invalid":  # must be rejected and kept, never applied or lost
        return {"supplies": {"water": -1}}
    name, choices = (kind, DISPOSITIONS) if kind == "disposition" else ("beat", ["04X", "06X", "31Y", "20Y"])
    value = choices[n % len(choices)]
    return None if view.get(name) == value else {name: value}


class SyncWorld(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.field = Field()
        f = self.field
        self.devices = {
            "responder-phone": (f.responder, f.client(f.responder, batch_size=4)),
            "responder-tablet": (f.responder, f.client(f.responder, batch_size=4)),
            "partner-phone": (f.partner, f.client(f.partner, batch_size=4)),
            "supervisor-tablet": (f.program_supervisor, f.client(f.program_supervisor, batch_size=4)),
        }
        self.queued = {}  # mutation_id -> device name
        self.answers = {}  # mutation_id -> the last answer a device received
        self.views = {}  # mutation_id -> what its phone showed of the record when the edit was made
        self.invalid = set()  # mutation ids of edits the server must refuse
        self.unique = 0
        self.unavailable = 0  # 503 answers received (nothing applied; sent again)
        # A few records everyone starts with, so offline edits collide from the first step.
        spec = get_spec("engagement")
        for notes in ("Tent camp check.", "Welfare check on 14th.", "Man in distress at BART."):
            record_create(
                spec=spec,
                ctx=WriteContext(actor=f.supervisor),
                team_id=f.team_a.pk,
                data={"origin": "on_view", "needs": ["housing"], "supplies": {"water": 2}, "notes": notes},
            )
        for _, client in self.devices.values():
            client.pull()

    # --- offline edits -------------------------------------------------------------------------------------------
    def _known_ids(self, client):
        ids = [k[1] for k in client.records if k[0] == "engagement"]
        ids += [m.id for m in client.outbox if m.op == "create"]
        return ids

    @rule(name=st.sampled_from(["responder-phone", "responder-tablet", "partner-phone"]))
    def create(self, name):
        # No team named: the server files it under the user's one team (after a team change, the new one).
        self.devices[name][1].create(
            "engagement", {"origin": "on_view", "needs": ["housing"], "supplies": {"water": 1}}
        )
        self._note_queued(name)

    @rule(
        name=st.sampled_from(["responder-phone", "responder-tablet", "partner-phone", "supervisor-tablet"]),
        pick=st.integers(0, 1000),
        change=edits,
    )
    def update(self, name, pick, change):
        _, client = self.devices[name]
        ids = self._known_ids(client)
        if not ids:
            return
        record_id = ids[pick % len(ids)]
        view = self._view(client, record_id)
        if view is None:
            return  # deleted on this phone
        self.unique += 1
        fields = changed_fields(view, *change, self.unique)
        if fields:
            out = client.update("engagement", record_id, fields)
            self.views[out.mutation_id] = view
            if change[0] == "invalid":
                self.invalid.add(out.mutation_id)
            self._note_queued(name)

    def _view(self, client, record_id):
        """What the phone shows: its view, without the edits it could not save (the invalid one stands for a value
        the server refuses; the person never sees it stored, so edits made later do not build on it)."""
        outbox = client.outbox
        client.outbox = [m for m in outbox if m.mutation_id not in self.invalid]
        try:
            return client.view("engagement", record_id)
        finally:
            client.outbox = outbox

    @rule(name=st.sampled_from(["responder-phone", "partner-phone"]), pick=st.integers(0, 1000))
    def delete(self, name, pick):
        _, client = self.devices[name]
        ids = self._known_ids(client)
        if ids:
            client.delete("engagement", ids[pick % len(ids)])
            self._note_queued(name)

    def _note_queued(self, name):
        for m in self.devices[name][1].outbox:
            self.queued.setdefault(m.mutation_id, name)

    # --- unreliable network -----------------------------------------------------------------------------------------
    def _raw_push(self, client, outgoing):
        status, body = client.transport(
            "POST", "/api/v1/sync/push", {"protocol": PROTOCOL, "mutations": [m.wire() for m in outgoing]}
        )
        if status == 503:  # nothing applied; the phone sends the same outbox again later
            self.unavailable += 1
            return body
        assert status == 200, body
        for result in body["results"]:
            if result["status"] != "pending":
                self.answers[result["mutation_id"]] = result
        return body

    def _push(self, client):
        """Push as docs/sync-protocol.md tells a phone to: a 503 (nothing applied; service_unavailable when the
        database is out of reach, push_clashed, server_busy) leaves the rest of the outbox to send again later.
        Batches answered before it keep their answers."""
        seen = dict(client.results)
        try:
            client.push()
        except SyncError as exc:
            if exc.status != 503:
                raise
            self.unavailable += 1
        for mid, result in client.results.items():
            if seen.get(mid) is not result:
                self.answers[mid] = result

    @rule(
        name=st.sampled_from(sorted(["responder-phone", "responder-tablet", "partner-phone", "supervisor-tablet"])),
        mode=st.sampled_from(["normal", "response_lost", "duplicated", "reordered"]),
    )
    def push(self, name, mode):
        _, client = self.devices[name]
        if not client.outbox:
            return
        if mode == "response_lost":
            self._raw_push(client, client.outbox[:4])  # applied on the server; the phone never hears back
        elif mode == "duplicated":
            self._raw_push(client, client.outbox[:4])
            self._raw_push(client, client.outbox[:4])
        elif mode == "reordered":
            half = len(client.outbox) // 2
            self._raw_push(client, client.outbox[half:][:4])  # the later batch arrives first
        self._push(client)

    @rule()
    def concurrent_push(self):
        clients = [self.devices["responder-phone"][1], self.devices["partner-phone"][1]]
        errors = []

        def run(client):
            try:
                self._push(client)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert not errors, errors

    @rule(name=st.sampled_from(["responder-phone", "responder-tablet", "partner-phone", "supervisor-tablet"]))
    def pull(self, name):
        # A phone pulls once what it pushed is answered: push first, as the docs say (after a 503, later).
        before = self.unavailable
        self._push(self.devices[name][1])
        if self.unavailable == before:
            self.devices[name][1].pull(limit=3)

    # --- the world changes -------------------------------------------------------------------------------------------
    @rule(pick=st.integers(0, 1000), to_b=st.booleans())
    def supervisor_moves_a_record(self, pick, to_b):
        f = self.field
        ids = list(
            Engagement.objects.filter(program=f.macro, deleted_at__isnull=True, team__in=[f.team_a, f.team_b])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not ids:
            return
        spec = get_spec("engagement")
        with transaction.atomic():
            record = get_for_write(spec, f.program_supervisor, ids[pick % len(ids)])
            record_move(
                spec=spec,
                ctx=WriteContext(actor=f.program_supervisor),
                instance=record,
                team_id=(f.team_b if to_b else f.team_a).pk,
            )

    @rule()
    def partner_changes_team(self):
        f = self.field
        current = Membership.objects.get(user=f.partner, is_active=True)
        current.is_active = False
        current.save()
        Membership.objects.create(
            user=f.partner,
            program=f.macro,
            role=Role.FIELD_RESPONDER,
            team=f.team_b if current.team_id == f.team_a.pk else f.team_a,
        )
        f.partner._memberships_cache = None

    @rule()
    def purge_tombstones(self):
        # Unconditional: a precondition reading the database would make example generation depend on it.
        tombstones_purge(older_than=timezone.now() + timedelta(seconds=1))

    # --- checks --------------------------------------------------------------------------------------------------
    @invariant()
    def answers_match_what_the_server_stored(self):
        if not self.answers:
            return
        stored = {str(m.pk): m for m in Mutation.objects.filter(pk__in=list(self.answers))}
        for mid, answer in self.answers.items():
            assert mid in stored, answer
            got = {k: v for k, v in answer.items() if k != "duplicate"}
            assert got == stored[mid].result

    def teardown(self):
        if not hasattr(self, "field"):
            return
        # Everyone reconnects: push until nothing is waiting (after a 503, again after Retry-After), then pull.
        for _ in range(10):
            before = self.unavailable
            for _, client in self.devices.values():
                self._push(client)
            if all(not c.outbox for _, c in self.devices.values()):
                break
            if self.unavailable > before:
                time.sleep(1)
        wait_for_stable_horizon()
        for user, client in self.devices.values():
            assert client.outbox == [], [m.wire() for m in client.outbox]
            client.pull(limit=7)
            user._memberships_cache = None
            spec = get_spec("engagement")
            server_view = {
                ("engagement", str(r.pk)): to_wire(spec, r, user)
                for r in spec.model.objects.filter(
                    team_id__in=selectors.readable_team_ids(user), deleted_at__isnull=True
                ).select_related("program")
            }
            assert client.records == server_view
        # Every mutation ever queued is accounted for, exactly once.
        stored = Mutation.objects.filter(pk__in=list(self.queued))
        assert stored.count() == len(self.queued)
        statuses = dict(stored.values_list("pk", "status"))
        assert set(statuses.values()) <= {"applied", "unchanged", "merged", "conflict", "amendment", "rejected"}
        for mid, status in statuses.items():
            if status == "conflict":
                assert Conflict.objects.filter(mutation_id=mid).exists()
        seqs = list(stored.values_list("device_id", "seq"))
        assert len(seqs) == len(set(seqs))
        for mid in self.queued:
            answer = self.answers.get(mid)
            assert answer is not None, f"mutation {mid} was never answered"
        account_for_every_edit(self.views)
        if os.environ.get("SYNC_STATEFUL_PROGRESS"):  # a long run's progress, one line per example checked
            with open(os.environ["SYNC_STATEFUL_PROGRESS"], "a") as progress:
                progress.write(f"{len(self.queued)} mutations\n")


TAKEN = ("applied", "unchanged", "merged", "conflict")


def account_for_every_edit(views):
    """Every field value a phone wrote is the current value, or was changed later by an edit made on a phone that
    showed it, or is summed into a count exactly, or is kept in a conflict or quarantine record. Records deleted
    or purged since are left out (the delete rule has tests of its own)."""
    edits = list(
        Mutation.objects.filter(pk__in=list(views), op="update")
        .order_by("processed_at", "seq")
        .values("pk", "record_id", "status", "payload")
    )
    conflicts = set(Conflict.objects.filter(mutation_id__in=list(views)).values_list("mutation_id", "field"))
    records = {r.pk: r for r in Engagement.objects.filter(pk__in={e["record_id"] for e in edits}, deleted_at=None)}
    taken = [e for e in edits if e["status"] in TAKEN and e["record_id"] in records]
    for e in edits:
        assert e["status"] in (*TAKEN, "rejected"), e  # rejected: kept in the quarantine
    for record_id, record in records.items():
        mine = [(e, str(e["pk"])) for e in taken if e["record_id"] == record_id]
        _account_for_counts(record, [(e["payload"]["fields"], views[mid]) for e, mid in mine])
        for i, (e, mid) in enumerate(mine):
            later = [(x["payload"]["fields"], views[m]) for x, m in mine[i + 1 :]]
            for name, value in e["payload"]["fields"].items():
                if (e["pk"], name) in conflicts or name == "supplies":
                    continue
                _account_for(name, value, views[mid].get(name), getattr(record, name), later)


def _account_for_counts(record, edits):
    """A record's supplies are what it was created with plus every increment a taken edit made, exactly."""
    created = Mutation.objects.filter(record_id=record.pk, op="create").values_list("payload", flat=True).first()
    counts = dict((created or {}).get("fields", {}).get("supplies") or {}) if created else None
    if counts is None:  # one of the records everyone starts with
        counts = dict(RecordVersion.objects.get(record_id=record.pk, version=1).data["supplies"])
    for fields, view in edits:
        if "supplies" in fields:
            seen = view.get("supplies") or {}
            for key, n in fields["supplies"].items():
                counts[key] = counts.get(key, 0) + n - seen.get(key, 0)
    assert {k: v for k, v in record.supplies.items() if v} == {k: v for k, v in counts.items() if v}, record.pk


def _account_for(name, value, seen, now, later):
    if name == "notes":
        added = value[len(seen or "") :].strip() if value.startswith(seen or "") else value
        assert now.count(added) == 1, (added, now)
    elif name == "needs":
        for need in set(value) - set(seen or []):  # added: still there, or removed by a phone that showed it
            assert need in now or any(need in (v.get(name) or []) and need not in f.get(name, [need]) for f, v in later)
        for need in set(seen or []) - set(value):  # removed: gone, or added back by a phone that showed it gone
            assert need not in now or any(need not in (v.get(name) or []) and need in f.get(name, []) for f, v in later)
    else:  # a value: still there, or changed later on a phone that showed it
        assert now == value or any(name in f and v.get(name) == value for f, v in later), (name, value, now)


@pytest.mark.django_db(transaction=True)
def test_every_edit_is_accounted_for_and_devices_converge():
    run_state_machine_as_test(
        SyncWorld,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=os.environ.get("SYNC_STATEFUL_RANDOM") != "1",
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
            database=None,
            # SYNC_STATEFUL_SHRINK=0 reports the first failing run as it happened (faster, longer to read).
            phases=[p for p in Phase if os.environ.get("SYNC_STATEFUL_SHRINK") != "0" or p != Phase.shrink],
        ),
    )
