"""No input answers 500: ids taken by another type, unique values, impossible dates, database refusals."""

import uuid

import pytest
from django.db import connection, transaction
from django.test import Client

from incidents.models import Engagement, Incident
from sync.models import Mutation
from tests.incidents.test_records_api import make, url
from tests.support import ON_VIEW, mutation, push

NOW = "2026-11-20T21:00:00Z"


def incident_fields(number=None):
    return {"dvp_number": number or f"DVP-{uuid.uuid4().hex[:8]}", "kind": "shooting", "occurred_at": NOW}


# --- a client-chosen id already used by a record of another type ------------------------------------------


def test_rest_create_with_an_id_another_type_holds_is_a_409_that_tells_nothing(field):
    incident = make(field, "incident", field.team_d, field.interrupter)
    macro = field.api(field.responder).post(url("engagement"), {**ON_VIEW, "id": str(incident.pk)}, format="json")
    assert macro.status_code == 409 and macro.json()["code"] == "id_unavailable"
    assert "incident" not in macro.json()["message"].lower()
    same_program = field.api(field.interrupter).post(
        url("follow_up_case"), {"id": str(incident.pk), "status": "open"}, format="json"
    )
    assert same_program.status_code == 409 and same_program.json()["code"] == "id_unavailable"
    assert not Engagement.objects.filter(pk=incident.pk).exists()


def test_rest_create_with_a_foreign_teams_id_answers_as_for_any_unavailable_id(field):
    """Not `record_exists` (which would confirm a record of that type in another team); the same answer as an
    id held by a record of another program or another type."""
    theirs = make(field, "incident", field.team_d, field.interrupter)
    other_program = make(field, "engagement", field.team_a, field.responder)
    api = field.api(field.interrupter_b)
    foreign = api.post(url("incident"), {**incident_fields(), "id": str(theirs.pk)}, format="json")
    elsewhere = api.post(url("incident"), {**incident_fields(), "id": str(other_program.pk)}, format="json")
    assert foreign.status_code == elsewhere.status_code == 409
    assert foreign.json() == elsewhere.json()
    # The caller's own record sent twice is still told so.
    mine = field.api(field.interrupter).post(
        url("incident"), {**incident_fields(), "id": str(theirs.pk)}, format="json"
    )
    assert mine.status_code == 409 and mine.json()["code"] == "record_exists"


def test_push_with_an_id_another_type_holds_rejects_that_mutation_only_and_the_resend_is_answered_the_same(field):
    incident = make(field, "incident", field.team_d, field.interrupter)
    api = field.api(field.responder)
    batch = [
        mutation(1, fields=ON_VIEW),
        mutation(2, record_id=incident.pk, fields=ON_VIEW),
        mutation(3, fields=ON_VIEW),
    ]
    first = push(api, *batch)
    assert first.status_code == 200, first.content
    statuses = [(r["status"], r.get("code")) for r in first.json()["results"]]
    assert statuses == [("applied", None), ("rejected", "id_unavailable"), ("applied", None)]
    assert Engagement.objects.filter(pk__in=[batch[0]["id"], batch[2]["id"]]).count() == 2
    again = push(api, *batch)
    assert again.status_code == 200
    assert [(r["status"], r.get("code")) for r in again.json()["results"]] == statuses
    assert Mutation.objects.get(pk=batch[1]["mutation_id"]).reason_code == "id_unavailable"


def test_one_push_creating_one_id_as_two_types_rejects_the_second(field):
    api = field.api(field.interrupter)
    shared = uuid.uuid4()
    batch = [
        mutation(1, type_="incident", record_id=shared, fields=incident_fields()),
        mutation(2, type_="follow_up_case", record_id=shared, fields={"status": "open"}),
        mutation(3, type_="incident", fields=incident_fields()),
    ]
    response = push(api, *batch)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert results[1]["code"] == "record_exists" or results[1]["code"] == "id_unavailable"
    assert push(api, *batch).json()["results"][1]["code"] == results[1]["code"]


# --- a unique value that involves a field the server sets ---------------------------------------------------


def test_a_second_incident_with_the_same_dvp_number_is_a_clear_4xx(field):
    api = field.api(field.interrupter)
    assert api.post(url("incident"), incident_fields("DVP-2026-7"), format="json").status_code == 201
    again = api.post(url("incident"), incident_fields("DVP-2026-7"), format="json")
    assert again.status_code == 400, again.content
    errors = again.json()["fields"]
    assert any(e["code"] == "dvp_number_taken" for errs in errors.values() for e in errs)
    # Over sync: only that mutation is rejected.
    batch = [
        mutation(1, type_="incident", fields=incident_fields("DVP-2026-7")),
        mutation(2, type_="incident", fields=incident_fields("DVP-2026-8")),
    ]
    results = push(api, *batch).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert Incident.objects.filter(dvp_number="DVP-2026-7").count() == 1


# --- impossible dates ----------------------------------------------------------------------------------------

BAD_DATES = ["2026-02-30", "2026-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "2026-02-30T10:00:00Z"]


@pytest.mark.parametrize("bad", BAD_DATES)
def test_impossible_dates_answer_400_invalid_date_everywhere(field, bad):
    from responders.models import Role

    admin = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    anonymous = Client()
    api = field.api(field.supervisor)
    cases = {
        "public stats start": anonymous.get("/api/v1/public/stats", {"start": bad}),
        "public stats page": anonymous.get("/public/stats", {"start": bad}),
        "engagements start": api.get("/api/v1/reports/engagements", {"program": "MACRO", "start": bad}),
        "engagements end": api.get("/api/v1/reports/engagements", {"program": "MACRO", "end": bad}),
        "engagements as_of": api.get("/api/v1/reports/engagements", {"program": "MACRO", "as_of": bad}),
        "csv": api.get("/api/v1/reports/engagements", {"program": "MACRO", "start": bad, "export": "csv"}),
        "shifts": api.get("/api/v1/reports/shifts", {"program": "MACRO", "start": bad}),
        "cad reconciliation": field.api(admin).get(
            "/api/v1/reports/cad-reconciliation", {"program": "MACRO", "start": bad}
        ),
        "dvp": field.api(field.dvp_supervisor).get("/api/v1/reports/dvp", {"program": "DVP", "start": bad}),
    }
    page = Client()
    page.force_login(field.supervisor)
    cases["reports page"] = page.get("/reports/", {"start": bad})
    cases["reports page as_of"] = page.get("/reports/", {"as_of": bad})
    cases["reports page csv"] = page.get("/reports/team-month.csv", {"start": bad})
    wrong = {name: r.status_code for name, r in cases.items() if r.status_code != 400}
    assert not wrong, wrong
    for name, response in cases.items():
        if response["Content-Type"].startswith("application/json"):
            assert response.json()["code"] == "invalid_date", name


def test_impossible_device_time_and_cad_time_are_not_500(field):
    from responders.models import Role

    api = field.api(field.responder)
    response = push(api, mutation(1, fields=ON_VIEW, device_time="2026-02-30T10:00:00Z"))
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "applied"
    admin = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    csv = "cad_number,received_at\nC-1,2026-02-30T10:00:00Z\n"
    imported = field.api(admin).post("/api/v1/reports/cad-calls", {"program": "MACRO", "csv": csv}, format="json")
    assert imported.status_code == 400, imported.content


# --- a database refusal anywhere in a request ----------------------------------------------------------------


def _refuse(kind):
    """Raise the real error PostgreSQL gives for a duplicate key (IntegrityError) or a bad value (DataError)."""

    def refuse(*args, **kwargs):
        with transaction.atomic(), connection.cursor() as cursor:
            if kind == "integrity":
                cursor.execute("INSERT INTO django_content_type (app_label, model) VALUES ('x', 'dup'), ('x', 'dup')")
            else:
                cursor.execute("SELECT 1 / 0")

    return refuse


@pytest.mark.parametrize("kind", ["integrity", "data"])
@pytest.mark.parametrize("where", ["api read", "api write", "sync push", "page", "admin"])
def test_a_database_refusal_anywhere_in_a_request_is_a_clean_4xx(field, monkeypatch, kind, where):
    from django.contrib import admin

    from responders import selectors
    from responders.models import User

    expected = {"integrity": (409, "integrity_error"), "data": (400, "invalid_value")}[kind]
    if where == "admin":
        root = User.objects.create(username="root", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(root)
        monkeypatch.setattr(admin.site, "get_app_list", _refuse(kind))
        response = client.get("/admin/")
    elif where == "page":
        client = Client()
        client.force_login(field.supervisor)
        monkeypatch.setattr(selectors, "reviewable_team_ids", _refuse(kind))
        response = client.get("/supervisor/")
    else:
        api = field.api(field.responder)
        monkeypatch.setattr(selectors, "readable_team_ids", _refuse(kind))
        if where == "api read":
            response = api.get(url("engagement"))
        elif where == "api write":
            response = api.post(url("engagement"), ON_VIEW, format="json")
        else:
            monkeypatch.setattr("sync.push.DeferredWrites.flush", _refuse(kind))
            response = push(api, mutation(1, fields=ON_VIEW))
    if where == "sync push" and kind == "integrity":
        # A push whose writes clash at commit is told to come again (nothing of it applied).
        assert response.status_code == 503 and response.json()["code"] == "push_clashed", response.content
        return
    assert (response.status_code, response.json()["code"]) == expected, response.content


def test_watermelondb_push_with_an_id_another_type_holds_rejects_that_row_only(field):
    incident = make(field, "incident", field.team_d, field.interrupter)
    api = field.api(field.responder)
    pulled = api.get("/api/v1/sync/watermelon/pull", {"last_pulled_at": "null", "schema_version": 1}).json()

    def row(record_id):
        return {
            "id": str(record_id),
            "origin": "on_view",
            "needs": "[]",
            "team_id": field.team_a.pk,
            "_status": "created",
            "_changed": "",
        }

    good = uuid.uuid4()
    changes = {"engagements": {"created": [row(incident.pk), row(good)], "updated": [], "deleted": []}}
    response = api.post(f"/api/v1/sync/watermelon/push?last_pulled_at={pulled['timestamp']}", changes, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["experimentalRejectedIds"] == {"engagements": [str(incident.pk)]}
    assert Engagement.objects.filter(pk=good).exists() and not Engagement.objects.filter(pk=incident.pk).exists()
