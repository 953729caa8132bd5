"""The field-record REST API: the access matrix, validation codes, merging, walls, audit and query counts."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from incidents.models import Engagement, Incident
from incidents.views import URL_NAMES
from records.models import Conflict
from records.registry import get_spec
from records.writes import WriteContext, record_create

NOW = timezone.now().replace(microsecond=0)


def valid_data(field, type_name, team, actor):
    """Valid fields for a new record of this type in this team (creating parents where needed)."""
    at = NOW.isoformat()
    if type_name == "shift":
        return {"call_sign": "MACRO 31", "started_at": at}
    if type_name == "engagement":
        return {"origin": "on_view", "needs": ["housing"], "supplies": {"water": 2}}
    if type_name == "incident":
        return {"dvp_number": f"DVP-{uuid.uuid4().hex[:8]}", "kind": "shooting", "occurred_at": at}
    if type_name == "scene_response":
        return {"incident": str(make(field, "incident", team, actor).pk), "arrived_at": at}
    if type_name == "follow_up_case":
        return {"status": "open", "persons": [{"alias": "Cousin", "age_band": "18_24"}]}
    if type_name == "contact_attempt":
        return {"case": str(make(field, "follow_up_case", team, actor).pk), "attempted_at": at, "mode": "phone"}
    raise AssertionError(type_name)


def make(field, type_name, team, actor):
    spec = get_spec(type_name)
    return record_create(
        spec=spec,
        ctx=WriteContext(actor=actor, audit=False),
        data=valid_data(field, type_name, team, actor),
        team_id=team.pk,
    ).instance


def url(type_name, pk=None):
    base = f"/api/v1/{URL_NAMES[type_name]}"
    return f"{base}/{pk}" if pk else base


# Who may do what: the policy the matrix checks (not a copy of the code's answers).
DVP_TYPES = {"incident", "scene_response", "follow_up_case", "contact_attempt"}
MACRO_TYPES = {"shift", "engagement"}
CALLERS = [
    "own_responder",
    "own_supervisor",
    "program_supervisor",
    "other_team",
    "other_program",
    "analyst",
    "anonymous",
]


def caller_for(field, type_name, who):
    macro = type_name in MACRO_TYPES
    return {
        "own_responder": field.responder if macro else field.interrupter,
        "own_supervisor": field.supervisor if macro else field.dvp_supervisor,
        "program_supervisor": field.program_supervisor if macro else field.coordinator,
        "other_team": field.other_team if macro else field.interrupter_b,
        "other_program": field.interrupter if macro else field.responder,
        "analyst": field.macro_analyst if macro else field.dvp_analyst,
        "anonymous": None,
    }[who]


def expected(who, op, type_name):
    if who == "anonymous":
        return 401
    if who == "other_program" and type_name == "shift":
        who = "other_team"  # both programs keep shift logs: the other program's are simply out of scope
    if who in ("other_program", "analyst"):
        return 403  # no role that reads records of this program
    if who == "other_team":
        return {"list": 200, "create": 400}.get(op, 404)  # its own scope is fine; ours does not exist for it
    return {"create": 201}.get(op, 200)


@pytest.mark.parametrize("type_name", sorted(MACRO_TYPES | DVP_TYPES))
@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("op", ["list", "retrieve", "create", "update", "delete"])
def test_access_matrix(field, type_name, who, op):
    macro = type_name in MACRO_TYPES
    team = field.team_a if macro else field.team_d
    owner = field.responder if macro else field.interrupter
    record = make(field, type_name, team, owner)
    caller = caller_for(field, type_name, who)
    api = field.api(caller) if caller else APIClient()

    if op == "list":
        response = api.get(url(type_name))
    elif op == "retrieve":
        response = api.get(url(type_name, record.pk))
    elif op == "create":
        body = {**valid_data(field, type_name, team, owner), "team": team.pk}
        response = api.post(url(type_name), body, format="json")
    elif op == "update":
        response = api.patch(url(type_name, record.pk), {"notes": "Edited."}, format="json")
    else:
        response = api.delete(url(type_name, record.pk))

    assert response.status_code == expected(who, op, type_name), response.content
    body = response.json()
    record.refresh_from_db()
    if response.status_code >= 400:
        assert isinstance(body["code"], str) and body["code"]
    if op == "list" and response.status_code == 200:
        listed = {r["id"] for r in body["results"]}
        assert (str(record.pk) in listed) is (expected(who, "retrieve", type_name) == 200)
    if op == "update":
        assert (record.notes == "Edited.") is (response.status_code == 200)
    if op == "delete":
        assert (record.deleted_at is not None) is (response.status_code == 200)


@pytest.mark.parametrize(
    ("data", "field_name", "code"),
    [
        ({"origin": "911_dispatch"}, "cad_number", "cad_number_required"),
        (
            {"origin": "on_view", "received_at": "2026-11-24T10:00:00Z", "on_scene_at": "2026-11-24T09:00:00Z"},
            "on_scene_at",
            "times_out_of_order",
        ),
        ({"origin": "on_view", "supplies": {"water": -1}}, "supplies", "out_of_range"),
        ({"origin": "on_view", "supplies": {"water": 100000}}, "supplies", "out_of_range"),
        ({"origin": "walk_in"}, "origin", "invalid_choice"),
        ({"origin": "on_view", "needs": ["teleportation"]}, "needs", "invalid_choice"),
        ({"origin": "on_view", "persons": [{"name": "Jane Doe"}]}, "persons", "names_not_allowed"),
        ({"origin": "on_view", "persons": [{"alias": "x", "ssn": "1"}]}, "persons", "unknown_field"),
        ({"origin": "on_view", "latitude": "95.0", "longitude": "1"}, "latitude", "max_value"),
        ({"origin": "on_view", "latitude": "37.8"}, "latitude", "incomplete_location"),
        ({"origin": "on_view", "program": 2}, "program", "unknown_field"),
        ({"origin": "on_view", "version": 9}, "version", "unknown_field"),
        ({"origin": "on_view", "created_by": 1}, "created_by", "unknown_field"),
        ({"origin": "on_view", "eligible": "maybe"}, "eligible", "invalid"),
        ({}, "origin", "required"),
    ],
)
def test_engagement_validation_codes(field, data, field_name, code):
    api = field.api(field.responder)
    response = api.post(url("engagement"), data, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "validation_error"
    assert code in [e["code"] for e in body["fields"][field_name]], body
    assert Engagement.objects.count() == 0


def test_scene_response_cannot_point_at_another_teams_incident(field):
    incident = make(field, "incident", field.team_d2, field.interrupter_b)
    response = field.api(field.interrupter).post(url("scene_response"), {"incident": str(incident.pk)}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["incident"][0]["code"] == "does_not_exist"  # existence does not leak


def test_a_scene_response_without_its_incident_is_a_field_error_not_a_500(field):
    # Found by schemathesis: `{}` reached the database's NOT NULL on incident_id.
    response = field.api(field.interrupter).post(url("scene_response"), {}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["incident"][0]["code"] == "required"


def test_patch_with_stale_base_merges_and_keeps_the_loser(field):
    record = make(field, "engagement", field.team_a, field.responder)
    a, b = field.api(field.responder), field.api(field.partner)
    assert (
        b.patch(
            url("engagement", record.pk),
            {"disposition": "referred", "needs": ["housing", "medical"], "base_version": 1},
            format="json",
        ).json()["status"]
        == "applied"
    )
    body = a.patch(
        url("engagement", record.pk),
        {"disposition": "transported", "needs": ["basic_needs"], "base_version": 1},
        format="json",
    ).json()
    assert body["status"] == "conflict"
    assert body["merged_fields"] == ["needs"]
    assert sorted(body["record"]["needs"]) == ["basic_needs", "medical"]
    assert Conflict.objects.get(pk=body["conflicts"][0]["id"]).incoming_value == "transported"


def test_police_case_number_is_for_coordinators_only(field):
    record = make(field, "incident", field.team_d, field.coordinator)
    coordinator, interrupter = field.api(field.coordinator), field.api(field.interrupter)
    assert (
        coordinator.patch(url("incident", record.pk), {"police_case_number": "OPD-1"}, format="json").status_code == 200
    )
    assert coordinator.get(url("incident", record.pk)).json()["police_case_number"] == "OPD-1"
    assert "police_case_number" not in interrupter.get(url("incident", record.pk)).json()
    denied = interrupter.patch(url("incident", record.pk), {"police_case_number": "X"}, format="json")
    assert denied.status_code == 403 and denied.json()["code"] == "field_restricted"
    assert Incident.objects.get(pk=record.pk).police_case_number == "OPD-1"


def test_every_dvp_read_and_every_write_is_audited(field):
    records = [make(field, "incident", field.team_d, field.interrupter) for _ in range(3)]
    api = field.api(field.interrupter)
    api.get(url("incident"))
    api.get(url("incident", records[0].pk))
    reads = AuditEvent.objects.filter(actor=field.interrupter)
    assert sorted(reads.filter(action="record.list").values_list("object_id", flat=True)) == sorted(
        str(r.pk) for r in records
    )
    assert reads.filter(action="record.read", object_id=str(records[0].pk)).count() == 1
    created = api.post(
        url("incident"), valid_data(field, "incident", field.team_d, field.interrupter), format="json"
    ).json()
    api.patch(url("incident", created["id"]), {"notes": "x"}, format="json")
    api.delete(url("incident", created["id"]))
    writes = AuditEvent.objects.filter(object_id=created["id"]).values_list("action", flat=True)
    assert sorted(writes) == ["record.create", "record.delete", "record.update"]


def test_personal_data_is_never_cached(field):
    response = field.api(field.responder).get(url("engagement"))
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("type_name", sorted(MACRO_TYPES | DVP_TYPES))
def test_list_query_count_does_not_grow_with_rows(field, type_name, django_assert_max_num_queries):
    macro = type_name in MACRO_TYPES
    team, owner = (field.team_a, field.responder) if macro else (field.team_d, field.interrupter)
    api = field.api(owner)
    make(field, type_name, team, owner)
    with django_assert_max_num_queries(12) as few:
        api.get(url(type_name))
    for _ in range(15):
        make(field, type_name, team, owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api.get(url(type_name))
    assert response.json()["count"] >= 16


def test_filters(field):
    api = field.api(field.responder)
    for origin in ("on_view", "on_view", "community_referral"):
        api.post(url("engagement"), {"origin": origin}, format="json")
    assert api.get(url("engagement"), {"origin": "on_view"}).json()["count"] == 2
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get(url("engagement"), {"updated_since": since}).json()["count"] == 0
    bad = api.get(url("engagement"), {"origin": "nope"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


def test_time_filters_read_dates_like_every_other_parameter(field):
    """updated_since and the received filters are read by backend/dates.py: a bare date is its midnight here,
    an impossible day or a year outside 1900-2999 is invalid, an offset beyond 14 hours out of range."""
    api = field.api(field.responder)
    api.post(url("engagement"), {"origin": "on_view"}, format="json")
    assert api.get(url("engagement"), {"received_since": "2000-01-01"}).json()["count"] == 1
    assert api.get(url("engagement"), {"received_before": "2000-01-01"}).json()["count"] == 0
    for value, code in [
        ("2026-02-30", "invalid"),
        ("0001-01-01T00:00:00Z", "invalid"),
        ("3000-01-01", "invalid"),
        ("2026-03-01T10:00:00+20:00", "out_of_range"),
    ]:
        bad = api.get(url("engagement"), {"updated_since": value})
        assert bad.status_code == 400, value
        assert bad.json()["fields"]["updated_since"][0]["code"] == code, value
