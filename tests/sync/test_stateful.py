"""Property-based test of the whole sync promise, on real PostgreSQL through the real API.

Several devices of two responders and a program-wide supervisor edit offline,
push with responses dropped, batches duplicated, reordered and sent
concurrently, while records move between teams, a responder changes team,
and tombstones are purged. After everyone syncs:
  - each device holds exactly the server's view of its user's scope;
  - every mutation any device made is accounted for on the server
    (applied, merged, conflict, amendment or rejected-and-kept), none pending;
  - every push answer a device received agrees with what the server stored;
  - no record or mutation exists twice.

CI runs a fixed seed with a bounded number of examples;
SYNC_STATEFUL_EXAMPLES=10000 (make test-long) runs long.
"""

import os
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from incidents.models import Engagement
from responders import selectors
from responders.models import Membership, Role
from sync.client import PROTOCOL
from sync.models import Conflict, Mutation
from sync.records import WriteContext, get_for_write, record_create, record_move, to_wire
from sync.registry import get_spec
from sync.services import tombstones_purge
from tests.support import Field, wait_for_stable_horizon

EXAMPLES = int(os.environ.get("SYNC_STATEFUL_EXAMPLES", "12"))
STEPS = int(os.environ.get("SYNC_STATEFUL_STEPS", "40"))

NEEDS = ["housing", "medical", "mental_health", "basic_needs", "conflict"]
DISPOSITIONS = ["resolved_on_scene", "referred", "transported", "declined_services"]

edits = st.one_of(
    st.fixed_dictionaries({"needs": st.lists(st.sampled_from(NEEDS), unique=True, max_size=3)}),
    st.fixed_dictionaries(
        {"supplies": st.dictionaries(st.sampled_from(["water", "food", "hygiene_kit"]), st.integers(0, 9), max_size=2)}
    ),
    st.fixed_dictionaries({"notes": st.sampled_from(["Checked in.", "Gave water.", "Referred to shelter."])}),
    st.fixed_dictionaries({"disposition": st.sampled_from(DISPOSITIONS)}),
    st.fixed_dictionaries({"beat": st.sampled_from(["04X", "06X", "31Y"])}),
    # Invalid on purpose: must be rejected and kept, never applied or lost.
    st.just({"supplies": {"water": -1}}),
)


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
        if ids:
            client.update("engagement", ids[pick % len(ids)], change)
            self._note_queued(name)

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
        assert status == 200, body
        for result in body["results"]:
            if result["status"] != "pending":
                self.answers[result["mutation_id"]] = result
        return body

    def _push(self, client):
        for result in client.push():
            self.answers[result["mutation_id"]] = result

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
        # Everyone reconnects: push until nothing is waiting, then pull until caught up.
        for _ in range(3):
            for _, client in self.devices.values():
                self._push(client)
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
        ),
    )
