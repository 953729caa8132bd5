"""The set-based path of a push: consecutive creates validated one by one, inserted in one statement.

Each test pushes a batch twice, each time in a savepoint rolled back afterwards: once as the server runs
it, once with runs of creates applied one mutation at a time (the path every mutation took before runs
existed). Answers, records, versions, change rows, audit events, Mutation rows and the device's next seq
must be the same; then it checks what it expects of the batch itself.
"""

import uuid
from datetime import timedelta
from unittest import mock

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import Engagement, Incident, SceneResponse
from records.models import Change, RecordVersion
from records.registry import get_spec
from records.wire import to_wire
from records.writes import WriteContext, record_create
from sync import push as push_engine
from sync.models import DeviceSyncState, Mutation
from tests.support import ON_VIEW, mutation, push

AT = (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()
SERVER_TIMES = ("server_received_at", "server_updated_at")


def one_by_one(user, device, app_version, rows, request, deferred):
    """The per-mutation path, for comparison."""
    for row in rows:
        push_engine.process_mutation(user, device, app_version, row, request, deferred, save=False)


def inserts_into(queries, model):
    """Statements that insert into the model's table: an INSERT (one record) or a COPY (a run's records)."""
    table = model._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith((f'INSERT INTO "{table}"', f'COPY "{table}"'))]


def written(user, device, batch):
    """Everything a push of `batch` leaves behind that does not depend on the clock or on serial ids."""
    record_ids = {m["id"] for m in batch}
    records = []
    for spec in (get_spec(name) for name in sorted({m["type"] for m in batch})):
        for record in spec.model._base_manager.filter(pk__in=record_ids):
            wire = {k: v for k, v in to_wire(spec, record, user).items() if k not in SERVER_TIMES}
            records.append(wire)
    return {
        "records": sorted(records, key=lambda r: r["id"]),
        "versions": sorted(
            RecordVersion.objects.filter(record_id__in=record_ids).values_list(
                "record_type", "record_id", "version", "data", "changed_fields", "author", "device", "mutation_id"
            ),
            key=str,
        ),
        "changes": sorted(
            Change.objects.filter(record_id__in=record_ids).values_list(
                "record_type", "record_id", "team", "program", "op", "version"
            ),
            key=str,
        ),
        "events": sorted(
            AuditEvent.objects.filter(device=device)
            .exclude(action__in=[AuditEvent.Action.SYNC_PULL])
            .values_list("action", "actor", "program", "object_type", "object_id", "detail"),
            key=str,
        ),
        "mutations": sorted(
            Mutation.objects.filter(device=device).values_list(
                "id", "seq", "record_type", "record_id", "op", "status", "result", "reason_code", "program", "team"
            ),
            key=str,
        ),
        "next_seq": DeviceSyncState.objects.get(device=device).next_seq,
    }


def push_both_ways(api, user, *batches):
    """Push the batches as the server does, then again with runs applied one by one; compare; keep the first.

    Returns (answers of each batch, queries of each batch) of the set-based run.
    """
    outcomes = []
    for per_mutation in (True, False):
        with transaction.atomic():
            answers, queries = [], []
            with mock.patch.object(push_engine, "_apply_creates", one_by_one) if per_mutation else _nothing():
                for batch in batches:
                    with CaptureQueriesContext(connection) as captured:
                        response = push(api, *batch)
                    assert response.status_code == 200, response.content
                    answers.append(response.json()["results"])
                    queries.append(captured.captured_queries)
            state = written(user, api.device, [m for b in batches for m in b])
            outcomes.append((answers, state))
            if per_mutation:
                transaction.set_rollback(True)
    (old_answers, old_state), (new_answers, new_state) = outcomes
    assert new_answers == old_answers
    for key in old_state:
        assert new_state[key] == old_state[key], key
    return new_answers, queries


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def assert_applied_exactly(spec_model, good, bad):
    """The good mutations' records exist with their history, change row, audit event and Mutation row; the bad
    ones left nothing but a rejected Mutation row."""
    good_ids = {uuid.UUID(m["id"]) for m in good}
    bad_ids = {uuid.UUID(m["id"]) for m in bad}
    assert set(spec_model._base_manager.filter(pk__in=good_ids | bad_ids).values_list("pk", flat=True)) == good_ids
    versions = RecordVersion.objects.filter(record_id__in=good_ids | bad_ids)
    assert sorted(versions.values_list("record_id", "version", "mutation_id")) == sorted(
        (uuid.UUID(m["id"]), 1, uuid.UUID(m["mutation_id"])) for m in good
    )
    changes = Change.objects.filter(record_id__in=good_ids | bad_ids)
    assert sorted(changes.values_list("record_id", "op", "version")) == sorted((i, "upsert", 1) for i in good_ids)
    events = AuditEvent.objects.filter(
        action=AuditEvent.Action.RECORD_CREATE, object_id__in=[str(i) for i in good_ids | bad_ids]
    )
    assert sorted(events.values_list("object_id", flat=True)) == sorted(str(i) for i in good_ids)
    for m in good:
        row = Mutation.objects.get(pk=m["mutation_id"])
        assert (row.status, row.reason_code, row.result["status"]) == ("applied", "", "applied")
        assert row.team_id is not None
    for m in bad:
        row = Mutation.objects.get(pk=m["mutation_id"])
        assert row.status == "rejected" and row.reason_code and row.result["status"] == "rejected"


def test_a_run_of_creates_is_inserted_in_one_statement(field):
    api = field.api(field.responder)
    batch = [mutation(i + 1, fields={**ON_VIEW, "beat": f"{i}X"}) for i in range(20)]
    answers, queries = push_both_ways(api, field.responder, batch)
    assert [r["status"] for r in answers[0]] == ["applied"] * 20
    assert [r["version"] for r in answers[0]] == [1] * 20
    assert len(inserts_into(queries[0], Engagement)) == 1
    assert len(queries[0]) < 30  # not a few statements per mutation
    assert_applied_exactly(Engagement, batch, [])
    assert DeviceSyncState.objects.get(device=api.device).next_seq == 21


def test_an_invalid_create_in_a_run_is_rejected_alone(field):
    api = field.api(field.responder)
    batch = [mutation(i + 1, fields=ON_VIEW) for i in range(6)]
    batch[2]["fields"] = {**ON_VIEW, "supplies": {"water": -4}}  # out of range
    batch[4]["fields"] = {"origin": "911_dispatch"}  # a 911 dispatch needs its CAD number (Model.clean)
    answers, queries = push_both_ways(api, field.responder, batch)
    assert [r["status"] for r in answers[0]] == ["applied", "applied", "rejected", "applied", "rejected", "applied"]
    assert answers[0][2]["code"] == "validation_error"
    assert answers[0][2]["fields"]["supplies"][0]["code"] == "out_of_range"
    assert answers[0][4]["fields"]["cad_number"][0]["code"] == "cad_number_required"
    # Validation errors need no fallback: the four good records still go in one statement.
    assert len(inserts_into(queries[0], Engagement)) == 1
    assert_applied_exactly(Engagement, [batch[i] for i in (0, 1, 3, 5)], [batch[2], batch[4]])
    assert Mutation.objects.get(pk=batch[2]["mutation_id"]).team_id == field.team_a.pk


def test_a_create_with_the_id_of_an_existing_record_is_rejected_alone(field):
    existing = record_create(
        spec=get_spec("engagement"), ctx=WriteContext(actor=field.partner, audit=False), data=ON_VIEW
    ).instance
    api = field.api(field.responder)
    batch = [mutation(i + 1, fields=ON_VIEW) for i in range(5)]
    batch[3]["id"] = str(existing.pk)
    answers, _ = push_both_ways(api, field.responder, batch)
    assert [r["status"] for r in answers[0]] == ["applied"] * 3 + ["rejected", "applied"]
    assert answers[0][3]["code"] == "record_exists"
    assert_applied_exactly(Engagement, [batch[i] for i in (0, 1, 2, 4)], [])
    assert Engagement.objects.get(pk=existing.pk).created_by == field.partner  # untouched


def test_an_id_taken_after_the_check_rolls_the_run_back_and_applies_it_one_by_one(field):
    """Another push inserts a record with one of the batch's ids between the batch's existence check and its
    INSERT: the run's statement fails, its savepoint is rolled back, and the run is applied mutation by
    mutation, so that only the clashing create is rejected."""
    api = field.api(field.responder)
    batch = [mutation(i + 1, fields=ON_VIEW) for i in range(5)]
    taken = record_create(
        spec=get_spec("engagement"), ctx=WriteContext(actor=field.partner, audit=False), data=ON_VIEW
    ).instance
    batch[2]["id"] = str(taken.pk)
    # As if the id were still free when the push looked.
    everything_absent = lambda envelopes: {e.record_id for e in envelopes}  # noqa: E731
    with mock.patch.object(push_engine, "_absent_record_ids", everything_absent):
        answers, queries = push_both_ways(api, field.responder, batch)
    assert [r["status"] for r in answers[0]] == ["applied", "applied", "rejected", "applied", "applied"]
    assert answers[0][2]["code"] == "record_exists"
    inserts = inserts_into(queries[0], Engagement)
    assert len(inserts) == 1 + 5  # the run's statement, then one per mutation
    assert inserts[0].startswith("COPY") and inserts[0].endswith("-- 5 rows")  # the failed one carried all five
    assert any(q["sql"].startswith("ROLLBACK TO SAVEPOINT") for q in queries[0])
    assert_applied_exactly(Engagement, [batch[i] for i in (0, 1, 3, 4)], [])
    assert Mutation.objects.get(pk=batch[2]["mutation_id"]).reason_code == "record_exists"
    taken_after = Engagement.objects.get(pk=taken.pk)
    assert (taken_after.created_by, taken_after.created_on_device) == (field.partner, None)  # untouched
    assert RecordVersion.objects.filter(record_id=taken.pk, mutation_id=batch[2]["mutation_id"]).count() == 0


def test_a_unique_value_clash_inside_a_run_rejects_only_the_second(field):
    """Two incidents of one push with the same DVP number: the run's INSERT fails, and the one-by-one fallback
    rejects the second as the per-mutation path does (its validation finds the number taken)."""
    api = field.api(field.interrupter)

    def incident(seq, number):
        return mutation(seq, type_="incident", fields={"dvp_number": number, "kind": "shooting", "occurred_at": AT})

    batch = [incident(1, "DVP-1"), incident(2, "DVP-2"), incident(3, "DVP-1"), incident(4, "DVP-3")]
    answers, queries = push_both_ways(api, field.interrupter, batch)
    assert [r["status"] for r in answers[0]] == ["applied", "applied", "rejected", "applied"]
    assert answers[0][2]["code"] == "validation_error"
    assert answers[0][2]["fields"]["non_field_errors"][0]["code"] == "dvp_number_taken"
    # The run's INSERT, then one per incident applied alone (the clashing one is refused before its INSERT).
    assert len(inserts_into(queries[0], Incident)) == 1 + 3
    assert_applied_exactly(Incident, [batch[0], batch[1], batch[3]], [batch[2]])


def test_a_create_referring_to_a_record_created_earlier_in_the_batch(field):
    """A scene response naming an incident of the same push: the run is applied before it, so the incident is
    there when the scene response is validated."""
    api = field.api(field.interrupter)
    incidents = [
        mutation(seq, type_="incident", fields={"dvp_number": f"DVP-{seq}", "kind": "shooting", "occurred_at": AT})
        for seq in (1, 2)
    ]
    scenes = [
        mutation(3, type_="scene_response", fields={"incident": incidents[0]["id"], "arrived_at": AT}),
        mutation(4, type_="scene_response", fields={"incident": incidents[1]["id"], "arrived_at": AT}),
    ]
    later = mutation(5, type_="incident", fields={"dvp_number": "DVP-5", "kind": "homicide", "occurred_at": AT})
    batch = [*incidents, *scenes, later]
    answers, queries = push_both_ways(api, field.interrupter, batch)
    assert [r["status"] for r in answers[0]] == ["applied"] * 5
    assert {str(s.incident_id) for s in SceneResponse.objects.filter(pk__in=[s["id"] for s in scenes])} == {
        i["id"] for i in incidents
    }
    # Runs: the two incidents; then the scene responses and the last incident (they name nothing of their run).
    assert len(inserts_into(queries[0], Incident)) == 2
    assert len(inserts_into(queries[0], SceneResponse)) == 1
    assert_applied_exactly(Incident, [*incidents, later], [])
    assert_applied_exactly(SceneResponse, scenes, [])


def test_a_reference_to_a_record_of_the_same_run_in_the_next_mutation(field):
    """An incident and its scene response back to back, twice over: each scene response starts a new run."""
    api = field.api(field.interrupter)
    batch, seq = [], 0
    for n in range(2):
        inc = mutation(
            seq + 1, type_="incident", fields={"dvp_number": f"N-{n}", "kind": "shooting", "occurred_at": AT}
        )
        scene = mutation(seq + 2, type_="scene_response", fields={"incident": inc["id"], "arrived_at": AT})
        batch += [inc, scene]
        seq += 2
    answers, _ = push_both_ways(api, field.interrupter, batch)
    assert [r["status"] for r in answers[0]] == ["applied"] * 4
    assert SceneResponse.objects.filter(pk__in=[batch[1]["id"], batch[3]["id"]]).count() == 2


def test_the_same_record_id_twice_in_a_batch(field):
    api = field.api(field.responder)
    batch = [mutation(i + 1, fields=ON_VIEW) for i in range(4)]
    batch[2]["id"] = batch[0]["id"]
    answers, _ = push_both_ways(api, field.responder, batch)
    assert [r["status"] for r in answers[0]] == ["applied", "applied", "rejected", "applied"]
    assert answers[0][2]["code"] == "record_exists"
    assert_applied_exactly(Engagement, [batch[0], batch[1], batch[3]], [])


def test_a_mutation_id_sent_twice_in_a_batch_and_resent_later(field):
    api = field.api(field.responder)
    first = [mutation(i + 1, fields=ON_VIEW) for i in range(4)]
    bad = mutation(5, fields={**ON_VIEW, "needs": ["not_a_need"]})
    repeated = dict(first[1])
    second = [
        *first[2:],  # resent: duplicates of the first push
        bad,  # resent too, rejected the first time
        mutation(6, fields=ON_VIEW),
        mutation(7, fields=ON_VIEW),
    ]
    answers, queries = push_both_ways(api, field.responder, [*first, repeated, bad], second)
    assert [r["status"] for r in answers[0]] == ["applied"] * 4 + ["rejected", "rejected"]
    assert answers[0][4]["code"] == "duplicate_in_batch"
    assert answers[0][5]["code"] == "validation_error"
    assert [r.get("duplicate") for r in answers[1]] == [True, True, True, None, None]
    assert [r["status"] for r in answers[1]] == ["applied", "applied", "rejected", "applied", "applied"]
    assert answers[1][:2] == [{**a, "duplicate": True} for a in answers[0][2:4]]
    assert len(inserts_into(queries[1], Engagement)) == 1
    assert_applied_exactly(Engagement, [*first, *second[3:]], [bad])
    assert Mutation.objects.filter(device=api.device).count() == 7
    assert DeviceSyncState.objects.get(device=api.device).next_seq == 8


def test_runs_around_mutations_waiting_for_an_earlier_seq(field):
    """A gap: creates after it wait, then apply in device order when it is filled (with updates in between)."""
    api = field.api(field.responder)
    rid = str(uuid.uuid4())
    early = [mutation(1, fields=ON_VIEW), mutation(2, fields=ON_VIEW)]
    gap = mutation(3, record_id=rid, fields=ON_VIEW)
    late = [
        mutation(4, "update", record_id=rid, fields={"disposition": "referred"}, base_version=1),
        mutation(5, fields=ON_VIEW),
        mutation(6, fields=ON_VIEW),
    ]
    answers, _ = push_both_ways(api, field.responder, [*early, *late], [gap, mutation(7, fields=ON_VIEW)])
    assert [r["status"] for r in answers[0]] == ["applied", "applied", "pending", "pending", "pending"]
    assert [r["status"] for r in answers[1]] == ["applied", "applied"]
    assert Engagement.objects.get(pk=rid).disposition == "referred"
    assert DeviceSyncState.objects.get(device=api.device).next_seq == 8
    assert set(Mutation.objects.filter(device=api.device).values_list("status", flat=True)) == {"applied"}


def test_watermelon_push_of_incidents_and_their_scene_responses(field):
    """WatermelonDB's push (protocol 1001) sends parents before children: each table's creates form runs."""
    api = field.api(field.interrupter)
    ms = int((timezone.now() - timedelta(hours=1)).timestamp() * 1000)
    incidents = [
        {"id": str(uuid.uuid4()), "dvp_number": f"W-{n}", "kind": "shooting", "occurred_at": ms, "_status": "created"}
        for n in range(3)
    ]
    incidents[1]["dvp_number"] = "W-0"  # clashes with the first: rejected alone
    scenes = [
        {"id": str(uuid.uuid4()), "incident_id": i["id"], "arrived_at": ms, "_status": "created"} for i in incidents
    ]
    changes = {
        "incidents": {"created": incidents, "updated": [], "deleted": []},
        "scene_responses": {"created": scenes, "updated": [], "deleted": []},
    }
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/sync/watermelon/push?last_pulled_at=null", changes, format="json")
    assert response.status_code == 200, response.content
    rejected = response.json()["experimentalRejectedIds"]
    assert rejected == {"incidents": [incidents[1]["id"]], "scene_responses": [scenes[1]["id"]]}
    assert set(Incident.objects.filter(pk__in=[i["id"] for i in incidents]).values_list("dvp_number", flat=True)) == {
        "W-0",
        "W-2",
    }
    assert SceneResponse.objects.filter(pk__in=[s["id"] for s in scenes]).count() == 2
    protocols = set(Mutation.objects.filter(device=api.device).values_list("protocol", flat=True))
    assert protocols == {push_engine.WATERMELON_PROTOCOL}
    # Incidents: the run's failed statement, then one by one; scene responses: one statement.
    # The run's INSERT, then the two valid incidents alone (the clashing one is refused before its INSERT).
    assert len(inserts_into(captured.captured_queries, Incident)) == 1 + 2
    assert len(inserts_into(captured.captured_queries, SceneResponse)) == 1
