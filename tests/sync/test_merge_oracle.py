"""The merge engine against an independent reference model, on random histories, through the real push endpoint.

Both the phones and the model below are written from docs/sync-protocol.md, not from the engine's code:

- A phone keeps the record as it last pulled it, its own answered edits on top until its next pull, and its
  outbox. Every edit sends only the fields it changed, with `base_version` = the version of its last pull (none
  for the record it created offline and has not pulled yet). It pushes its whole outbox; an answer may be lost,
  and then it sends the same outbox again before it pulls (a phone pulls only when everything it pushed was
  answered).
- The model says what the server must end with, field by field, by the documented policies, counted in events
  rather than compared values: supplies (counts) = the first values plus every increment any phone made;
  needs (set) = every phone's additions and removals applied in the order the server took them; the address
  (scalar) = the last value taken in, where a phone's value is a conflict when another phone's value was taken
  in after that phone last pulled; notes (text) = every sentence any phone added, each exactly once.
- It also says each mutation's answer: conflict, merged (what is stored is not what was sent), applied (stored
  as sent) or unchanged (nothing to change).

Several phones, chains of offline edits on one base, edits of a record created offline with no base, lost
answers and resends, identical concurrent changes. SYNC_ORACLE_EXAMPLES sets the number of histories.
"""

import os
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Engagement
from records.models import Conflict
from sync.models import Mutation
from tests.support import pull, push

EXAMPLES = int(os.environ.get("SYNC_ORACLE_EXAMPLES", "40"))
NEEDS = ["housing", "medical", "mental_health", "basic_needs"]
FIRST = {"origin": "on_view", "supplies": {"water": 1}, "needs": ["housing"], "address": "14th St", "notes": "Start."}


@dataclass
class Edit:
    mutation_id: str
    seq: int
    op: str
    fields: dict
    base_version: int | None
    view: dict  # what the phone showed when the person made the edit

    def wire(self, record_id):
        body = {"mutation_id": self.mutation_id, "seq": self.seq, "type": "engagement", "op": self.op}
        body.update(id=str(record_id), fields=self.fields)
        if self.base_version is not None:
            body["base_version"] = self.base_version
        return body


@dataclass
class Phone:
    name: str
    api: object
    seq: int = 0
    copy: dict | None = None  # the record as last pulled
    version: int | None = None
    acked: list = field(default_factory=list)  # own answered edits, until the next pull
    outbox: list = field(default_factory=list)
    cursor: str | None = None
    pulled_at: int = -1  # the history step of its last pull (for the model)

    def view(self):
        if self.copy is None and not self.outbox and not self.acked:
            return None
        shown = dict(self.copy or {})
        for edit in self.acked + self.outbox:
            shown.update(edit.fields)
        return shown

    def edit(self, fields, op="update"):
        self.seq += 1
        view = self.view() or {}
        base = self.version if op == "update" else None
        self.outbox.append(Edit(str(uuid.uuid4()), self.seq, op, fields, base, view))


class Model:
    """What the server must hold and answer, from the documented policies."""

    def __init__(self):
        self.supplies, self.needs, self.address = {}, set(), None
        self.sentences = []  # every sentence added to the notes
        self.writes = []  # (step, phone name, field) of every value the server took in
        self.status, self.conflicts, self.seen = {}, set(), set()

    def take(self, phone, edit, step):
        """The server takes in a mutation it has not seen before."""
        self.seen.add(edit.mutation_id)
        if edit.op == "create":
            f = edit.fields
            self.supplies, self.needs, self.address = dict(f["supplies"]), set(f["needs"]), f["address"]
            self.writes += [(step, phone.name, name) for name in f]
            self.status[edit.mutation_id] = "applied"
            return
        changed, as_sent, conflict = False, True, False
        for name, mine in edit.fields.items():
            unseen = any(w[1] != phone.name and w[2] == name and w[0] > phone.pulled_at for w in self.writes)
            if name == "supplies":
                before = dict(self.supplies)
                for key in set(mine) | set(edit.view.get("supplies", {})):
                    self.supplies[key] = (
                        self.supplies.get(key, 0) + mine.get(key, 0) - edit.view["supplies"].get(key, 0)
                    )
                self.supplies = {k: v for k, v in self.supplies.items() if v > 0}
                changed |= self.supplies != before
                as_sent &= self.supplies == mine
            elif name == "needs":
                before = set(self.needs)
                seen_before = set(edit.view.get("needs", []))
                self.needs = (self.needs - (seen_before - set(mine))) | (set(mine) - seen_before)
                changed |= self.needs != before
                as_sent &= self.needs == set(mine)
            elif name == "address":
                if unseen and self.address != mine:
                    conflict = True
                    self.conflicts.add((edit.mutation_id, "address", mine))
                    continue
                changed |= self.address != mine
                self.address = mine
            elif name == "notes":
                self.sentences.append(mine.rsplit(" ", 1)[-1])
                changed = True
                as_sent &= not unseen
            self.writes.append((step, phone.name, name))
        if conflict:
            self.status[edit.mutation_id] = "conflict"
        elif not as_sent:
            self.status[edit.mutation_id] = "merged"
        else:
            self.status[edit.mutation_id] = "applied" if changed else "unchanged"


class History:
    def __init__(self, field_):
        self.record_id = uuid.uuid4()
        users = [field_.responder, field_.partner, field_.supervisor]
        self.phones = [Phone(n, field_.api(u)) for n, u in zip("ABC", users, strict=True)]
        self.model, self.step, self.counter = Model(), 0, 0
        self.phones[0].edit(dict(FIRST), op="create")  # A creates the record offline

    def unique(self):
        self.counter += 1
        return self.counter

    def do(self, who, action, arg):
        self.step += 1
        phone = self.phones[who]
        view = phone.view()
        if action == "push":
            self.push(phone, lose_answer=arg % 2 == 1)
        elif action == "sync":
            self.sync(phone)
        elif view is None:
            return  # this phone does not have the record yet
        elif action == "give":
            key = ("water", "food")[arg % 2]
            supplies = dict(view.get("supplies", {}))
            supplies[key] = supplies.get(key, 0) + 1 + arg % 3
            phone.edit({"supplies": supplies})
        elif action == "need":
            need, needs = NEEDS[arg % len(NEEDS)], list(view.get("needs", []))
            phone.edit({"needs": [n for n in needs if n != need] if need in needs else [*needs, need]})
        elif action == "address":
            phone.edit({"address": f"{self.unique()} Broadway"})
        elif action == "note":
            phone.edit({"notes": f"{view.get('notes', '')} S{self.unique()}."})

    def push(self, phone, lose_answer=False):
        if not phone.outbox:
            return
        for edit in phone.outbox:
            if edit.mutation_id not in self.model.seen:
                self.model.take(phone, edit, self.step)
        response = push(phone.api, *[e.wire(self.record_id) for e in phone.outbox])
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert [r["status"] for r in results if r["status"] in ("rejected", "pending")] == [], results
        if lose_answer:
            return  # applied on the server; the phone never heard back and will send the same outbox again
        phone.acked += phone.outbox
        phone.outbox = []

    def sync(self, phone):
        """Push until answered, then pull (the order the docs give)."""
        self.push(phone)
        cursor, more = phone.cursor, True
        while more:
            response = pull(phone.api, cursor)
            assert response.status_code == 200, response.content
            page = response.json()
            for change in page["changes"]:
                if change["id"] == str(self.record_id) and change["op"] == "upsert":
                    record = change["record"]
                    phone.copy = {k: record[k] for k in ("supplies", "needs", "address", "notes", "origin")}
                    phone.version = record["version"]
            cursor, more = page["cursor"], page["has_more"] or page["behind"]
        phone.cursor, phone.acked, phone.pulled_at = cursor, [], self.step

    def check(self):
        for phone in self.phones:  # everyone reconnects
            self.sync(phone)
        for phone in self.phones:
            self.sync(phone)
        model, record = self.model, Engagement.objects.get(pk=self.record_id)
        assert record.supplies == model.supplies
        assert sorted(record.needs) == sorted(model.needs) and len(record.needs) == len(set(record.needs))
        assert record.address == model.address
        for sentence in ["Start.", *model.sentences]:
            assert record.notes.count(sentence) == 1, (sentence, record.notes)
        stored = dict(Mutation.objects.filter(pk__in=list(model.status)).values_list("pk", "status"))
        assert {str(k): v for k, v in stored.items()} == model.status
        conflicts = Conflict.objects.filter(record_id=self.record_id).values_list(
            "mutation_id", "field", "incoming_value"
        )
        assert {(str(m), f, v) for m, f, v in conflicts} == model.conflicts
        for phone in self.phones:
            assert phone.copy == {k: getattr(record, k) for k in phone.copy}


steps = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["give", "give", "need", "address", "note", "push", "sync", "sync"]),
        st.integers(0, 11),
    ),
    min_size=3,
    max_size=24,
)


@pytest.mark.serial  # phones pull what others pushed: the pushes must commit
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("SYNC_ORACLE_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(history=steps)
def test_the_engine_agrees_with_the_reference_model(tfield, history):
    h = History(tfield)
    for who, action, arg in history:
        h.do(who, action, arg)
    h.check()
