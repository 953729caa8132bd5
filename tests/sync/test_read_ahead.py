"""A push's updates and deletes read ahead (records/read_ahead.py): the same answers and the same stored state
as reading per mutation, in a number of reads that does not grow with the batch."""

import uuid
from unittest import mock

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from incidents.models import Engagement
from records.models import Conflict
from records.read_ahead import ReadAhead
from sync import push as push_engine
from tests.support import ON_VIEW, mutation, push
from tests.sync.test_push_runs import _nothing, written


def seeded(field, n, api):
    creates = [mutation(i + 1, fields={**ON_VIEW, "notes": f"Record {i}."}) for i in range(n)]
    assert push(api, *creates).status_code == 200
    return [m["id"] for m in creates]


def push_both_ways(api, user, batch):
    """Push `batch` with the read-ahead and, rolled back, without it (every mutation reads for itself)."""
    outcomes = []
    for per_mutation in (True, False):
        with transaction.atomic():
            patch = mock.patch.object(push_engine, "read_ahead", lambda *a: ReadAhead()) if per_mutation else _nothing()
            with patch, CaptureQueriesContext(connection) as captured:
                response = push(api, *batch)
            assert response.status_code == 200, response.content
            outcomes.append(
                (
                    response.json()["results"],
                    without_conflict_ids(written(user, api.device, batch)),
                    captured.captured_queries,
                )
            )
            conflicts = sorted(
                Conflict.objects.values_list(
                    "record_id",
                    "field",
                    "base_value",
                    "server_value",
                    "incoming_value",
                    "server_author",
                    "incoming_author",
                ),
                key=str,
            )
            outcomes[-1] += (conflicts,)
            if per_mutation:
                transaction.set_rollback(True)
    (old_answers, old_state, _, old_conflicts), (new_answers, new_state, queries, new_conflicts) = outcomes
    for old, new in zip(old_answers, new_answers, strict=True):
        assert {k: v for k, v in new.items() if k != "conflicts"} == {k: v for k, v in old.items() if k != "conflicts"}
        assert len(new.get("conflicts", [])) == len(old.get("conflicts", []))
    for key in old_state:
        assert new_state[key] == old_state[key], key
    assert new_conflicts == old_conflicts
    return new_answers, queries


def without_conflict_ids(state):
    """Conflict ids are new UUIDs each time: compared by field."""
    state["mutations"] = [
        (*row[:6], {**row[6], "conflicts": [c["field"] for c in row[6].get("conflicts", [])]}, *row[7:])
        for row in state["mutations"]
    ]
    return state


def selects_from(queries, model):
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'FROM "{model._meta.db_table}"' in q["sql"]]


def test_concurrent_edits_of_many_records_read_once_per_batch(field):
    """Two devices edit the same records from version 1; the second's edits conflict or merge. Whatever the
    batch size, the records are read (and locked) in one statement."""
    seed_api = field.api(field.responder)
    ids = seeded(field, 30, seed_api)
    first, second = field.api(field.responder), field.api(field.partner)
    batch = [
        mutation(i + 1, op="update", record_id=rid, base_version=1, fields={"disposition": "referred"})
        for i, rid in enumerate(ids)
    ]
    answers, _ = push_both_ways(first, field.responder, batch)
    assert {a["status"] for a in answers} == {"applied"}
    batch = [
        mutation(
            i + 1,
            op="update",
            record_id=rid,
            base_version=1,
            fields={"disposition": "transported", "needs": ["housing", "medical"]},
        )
        for i, rid in enumerate(ids)
    ]
    answers, queries = push_both_ways(second, field.partner, batch)
    assert {a["status"] for a in answers} == {"conflict"}
    assert len(selects_from(queries, Engagement)) == 1


def test_the_same_record_twice_a_delete_out_of_scope_and_missing_ids(field):
    """The read-ahead serves a record's first mutation only; the next reads the record as the first left it.
    Records out of the writer's scope and ids that name nothing answer as before (not_found)."""
    api = field.api(field.responder)
    ids = seeded(field, 3, api)
    theirs = seeded(field, 1, field.api(field.other_team))[0]
    batch = [
        mutation(4, op="update", record_id=ids[0], base_version=1, fields={"notes": "First edit."}),
        mutation(5, op="update", record_id=ids[0], base_version=2, fields={"needs": ["medical"]}),
        mutation(6, op="update", record_id=ids[1], fields={"supplies": {"water": 5}}),
        mutation(7, op="delete", record_id=ids[2], base_version=1),
        mutation(8, op="update", record_id=ids[2], base_version=1, fields={"notes": "After the delete."}),
        mutation(9, op="update", record_id=theirs, base_version=1, fields={"notes": "Not mine."}),
        mutation(10, op="update", record_id=str(uuid.uuid4()), base_version=1, fields={"notes": "Nothing."}),
    ]
    answers, _ = push_both_ways(api, field.responder, batch)
    assert [a["status"] for a in answers] == [
        "applied",
        "applied",
        "applied",
        "applied",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [a.get("code") for a in answers[4:]] == ["record_deleted", "not_found", "not_found"]
    assert Engagement.objects.get(pk=ids[0]).needs == ["medical"]


def test_a_mutation_waiting_for_a_gap_is_merged_with_the_edits_that_filled_it(field):
    """seq 3 arrives before seq 2 and waits; the push bringing seq 2 drains it, then applies seq 4. seq 4's merge
    base holds the device's own seq 3 (stored by the drain, after the read-ahead): it changes the disposition
    the device itself last set, so it applies without a conflict."""
    api = field.api(field.responder)
    ids = seeded(field, 1, api)
    early = mutation(3, op="update", record_id=ids[0], fields={"disposition": "transported"})
    assert push(api, early).json()["results"][0]["status"] == "pending"
    batch = [
        mutation(2, op="update", record_id=ids[0], base_version=1, fields={"disposition": "referred"}),
        mutation(4, op="update", record_id=ids[0], base_version=1, fields={"disposition": "resolved_on_scene"}),
    ]
    answers, _ = push_both_ways(api, field.responder, batch)
    assert [a["status"] for a in answers] == ["applied", "applied"]
    assert Engagement.objects.get(pk=ids[0]).disposition == "resolved_on_scene"
