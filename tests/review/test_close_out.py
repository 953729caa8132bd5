"""Shift close-out: the state machine, who may do what, the lock, amendments, and what devices see."""

import uuid

import pytest

from audit.models import AuditEvent
from incidents.models import Engagement, Shift
from records.models import Amendment
from tests.support import ON_VIEW, mutation, pull, push


@pytest.fixture
def shift_log(field):
    """A van-1 shift with one engagement, created by the crew through sync."""
    api = field.api(field.responder)
    sid, eid = uuid.uuid4(), uuid.uuid4()
    results = push(
        api,
        mutation(
            1,
            type_="shift",
            record_id=sid,
            fields={"call_sign": "MACRO 31", "started_at": "2026-11-24T07:00:00Z", "ended_at": "2026-11-24T15:00:00Z"},
        ),
        mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid)}),
    ).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    return {"shift": sid, "engagement": eid, "crew": api}


def step(api, shift_id, name, comment=None):
    return api.post(f"/api/v1/shifts/{shift_id}/{name}", {"comment": comment} if comment else {}, format="json")


def test_submit_approve_locks_and_is_audited(field, shift_log):
    sid = shift_log["shift"]
    assert step(shift_log["crew"], sid, "submit").json()["review_status"] == "submitted"
    queue = field.api(field.supervisor).get("/api/v1/review/queue").json()["results"]
    assert [s["id"] for s in queue] == [str(sid)]
    approved = step(field.api(field.supervisor), sid, "approve")
    assert approved.status_code == 200 and approved.json()["review_status"] == "approved"
    shift = Shift.objects.get(pk=sid)
    assert shift.is_locked and shift.reviewed_by == field.supervisor
    actions = set(AuditEvent.objects.filter(object_id=str(sid)).values_list("action", flat=True))
    assert {"shift.submitted", "shift.approved"} <= actions


def test_return_needs_a_comment_and_goes_back_to_the_crew(field, shift_log):
    sid = shift_log["shift"]
    step(shift_log["crew"], sid, "submit")
    supervisor = field.api(field.supervisor)
    missing = step(supervisor, sid, "return")
    assert missing.status_code == 400 and missing.json()["code"] == "comment_required"
    returned = step(supervisor, sid, "return", "Add the CAD number for the 11:30 call.")
    assert returned.json()["review_status"] == "returned"
    assert returned.json()["review_comment"] == "Add the CAD number for the 11:30 call."
    assert step(shift_log["crew"], sid, "submit").json()["review_status"] == "submitted"


@pytest.mark.parametrize(("name", "from_status"), [("approve", "open"), ("return", "open"), ("submit", "approved")])
def test_invalid_transitions_are_409(field, shift_log, name, from_status):
    Shift.objects.filter(pk=shift_log["shift"]).update(review_status=from_status)
    response = step(field.api(field.supervisor), shift_log["shift"], name, "x")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"
    assert Shift.objects.get(pk=shift_log["shift"]).review_status == from_status


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("partner", 403),
        ("other_team", 404),
        ("interrupter", 404),
        ("dvp_supervisor", 404),
        ("macro_analyst", 404),
        ("program_supervisor", 200),
    ],
)
def test_who_may_approve(field, shift_log, who, status):
    step(shift_log["crew"], shift_log["shift"], "submit")
    response = step(field.api(getattr(field, who)), shift_log["shift"], "approve")
    assert response.status_code == status
    assert Shift.objects.get(pk=shift_log["shift"]).is_locked is (status == 200)


def test_edit_after_approval_becomes_an_amendment_then_a_late_change(field, shift_log):
    sid, eid, crew = shift_log["shift"], shift_log["engagement"], shift_log["crew"]
    step(crew, sid, "submit")
    step(field.api(field.supervisor), sid, "approve")
    r = push(crew, mutation(3, "update", record_id=eid, base_version=1, fields={"disposition": "referred"})).json()[
        "results"
    ][0]
    assert r["status"] == "amendment"
    assert Engagement.objects.get(pk=eid).disposition == ""
    # Another team's supervisor cannot decide it; this team's can.
    outsider = field.api(field.user("sup_b", field.macro, field.team_b, "supervisor"))
    assert outsider.post(f"/api/v1/amendments/{r['amendment_id']}/accept").status_code == 404
    assert crew.post(f"/api/v1/amendments/{r['amendment_id']}/accept").status_code == 403
    accepted = field.api(field.supervisor).post(f"/api/v1/amendments/{r['amendment_id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    record = Engagement.objects.get(pk=eid)
    assert (record.disposition, record.is_late, record.version) == ("referred", True, 2)
    again = field.api(field.supervisor).post(f"/api/v1/amendments/{r['amendment_id']}/decline")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"


def test_declined_amendment_changes_nothing_but_is_kept(field, shift_log):
    sid, eid, crew = shift_log["shift"], shift_log["engagement"], shift_log["crew"]
    step(crew, sid, "submit")
    step(field.api(field.supervisor), sid, "approve")
    r = push(crew, mutation(3, "delete", record_id=eid, base_version=1)).json()["results"][0]
    declined = field.api(field.supervisor).post(
        f"/api/v1/amendments/{r['amendment_id']}/decline", {"comment": "Keep it: it was a real contact."}, format="json"
    )
    assert declined.json()["status"] == "declined"
    assert Engagement.objects.get(pk=eid).deleted_at is None
    assert Amendment.objects.get(pk=r["amendment_id"]).comment == "Keep it: it was a real contact."


def test_devices_learn_the_review_state(field, shift_log):
    step(shift_log["crew"], shift_log["shift"], "submit")
    shifts = [c for c in pull(field.api(field.partner)).json()["changes"] if c["type"] == "shift"]
    assert shifts[0]["record"]["review_status"] == "submitted" and shifts[0]["version"] == 2
