"""Supervisor pages with Django's test client: login, permissions, the review forms, CSRF, no N+1."""

import uuid

import pytest
from django.test import Client

from incidents.models import Shift
from records.models import Conflict
from tests.support import ON_VIEW, mutation, push

PASSWORD = "supervisor-pages-pw-1"


def browser_for(user):
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def submitted(field):
    api = field.api(field.responder)
    sid = uuid.uuid4()
    push(
        api,
        mutation(
            1,
            type_="shift",
            record_id=sid,
            fields={"call_sign": "MACRO 31", "started_at": "2026-11-24T07:00:00Z", "ended_at": "2026-11-24T15:00:00Z"},
        ),
        *[mutation(i + 2, fields={**ON_VIEW, "shift": str(sid)}) for i in range(3)],
    )
    api.post(f"/api/v1/shifts/{sid}/submit")
    return sid


def test_pages_need_a_supervisor(field, submitted):
    assert Client().get("/supervisor/").status_code == 302  # to the login page
    assert browser_for(field.responder).get("/supervisor/").status_code == 403
    assert browser_for(field.other_team).get(f"/supervisor/shifts/{submitted}/").status_code == 403
    outsider = field.user("sup_b", field.macro, field.team_b, "supervisor")
    assert browser_for(outsider).get(f"/supervisor/shifts/{submitted}/").status_code == 404


def test_supervisor_reviews_a_shift_from_the_pages(field, submitted, django_assert_max_num_queries):
    client = browser_for(field.supervisor)
    home = client.get("/supervisor/")
    assert home.status_code == 200 and b"MACRO 31" in home.content
    assert home["Cache-Control"] == "no-store" and "default-src 'self'" in home["Content-Security-Policy"]
    with django_assert_max_num_queries(15):
        page = client.get(f"/supervisor/shifts/{submitted}/")
    assert page.status_code == 200 and page.content.count(b"On-view (self-initiated)") == 6  # titles and values
    assert b'<label for="comment">' in page.content
    returned = client.post(f"/supervisor/shifts/{submitted}/return", {"comment": "Add the CAD number."}, follow=True)
    assert b"returned to the crew" in returned.content
    assert Shift.objects.get(pk=submitted).review_status == "returned"
    field.api(field.responder).post(f"/api/v1/shifts/{submitted}/submit")
    unconfirmed = client.post(f"/supervisor/shifts/{submitted}/approve")
    assert unconfirmed.status_code == 302 and Shift.objects.get(pk=submitted).review_status == "submitted"
    client.post(f"/supervisor/shifts/{submitted}/approve", {"confirm": "yes"})
    assert Shift.objects.get(pk=submitted).review_status == "approved"
    again = client.post(f"/supervisor/shifts/{submitted}/approve", {"confirm": "yes"}, follow=True)
    assert b"cannot be approved" in again.content  # a clear message, not an error page


def test_forms_need_csrf(field, submitted):
    field.supervisor.set_password(PASSWORD)
    field.supervisor.save()
    client = Client(enforce_csrf_checks=True)
    client.login(username=field.supervisor.username, password=PASSWORD)
    assert client.post(f"/supervisor/shifts/{submitted}/approve", {"confirm": "yes"}).status_code == 403
    assert Shift.objects.get(pk=submitted).review_status == "submitted"


def test_conflicts_quarantine_and_overdue_pages(field):
    a, b = field.api(field.responder), field.api(field.partner)
    rid = uuid.uuid4()
    push(a, mutation(1, record_id=rid, fields=ON_VIEW))
    push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "referred"}))
    push(
        a,
        mutation(2, "update", record_id=rid, base_version=1, fields={"disposition": "transported"}),
        mutation(3, fields={"origin": "911_dispatch"}),
    )
    client = browser_for(field.supervisor)
    page = client.get("/supervisor/conflicts/")
    # Labels, not codes; the record named by type, time and place, with a link to its page.
    assert b"Transported" in page.content and b">transported<" not in page.content
    assert f"/supervisor/records/engagement/{rid}/".encode() in page.content
    conflict = Conflict.objects.get(record_id=rid)
    client.post(f"/supervisor/conflicts/{conflict.pk}/resolve", {"resolution": "take_incoming"})
    conflict.refresh_from_db()
    assert conflict.status == "resolved"
    quarantine = client.get("/supervisor/quarantine/")
    # The server's message per field, as the API gave it, not the bare code (the page used to show
    # "validation_error").
    assert b"A 911 dispatch needs its CAD number." in quarantine.content
    assert b"CAD number" in quarantine.content and b"validation_error" not in quarantine.content
    assert client.get("/supervisor/amendments/").status_code == 200
    # The follow-up worklists are DVP's: a MACRO supervisor finds nothing there.
    assert client.get("/supervisor/follow-ups/overdue/").status_code == 404


def test_reports_page_with_chart_and_csv(field, submitted):
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import AuditEvent

    client = browser_for(field.supervisor)
    today = timezone.localdate()
    params = {"program": "MACRO", "start": today.isoformat(), "end": (today + timedelta(days=1)).isoformat()}
    old = client.get("/supervisor/reports/", params)  # the old address still leads there
    assert old.status_code == 302 and old["Location"].startswith("/reports/?")
    page = client.get("/reports/", params)
    assert page.status_code == 200
    assert b"<svg" in page.content and b'<th scope="row">Engagements</th><td>3</td>' in page.content
    csv = client.get("/reports/team-month.csv", params)
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0] == "Team,Month,Origin,Engagements"
    assert AuditEvent.objects.filter(action="report.export", actor=field.supervisor).count() == 1
    assert browser_for(field.responder).get("/reports/").status_code == 403


def test_a_dvp_supervisor_clicking_reports_gets_dvp(field):
    """The issue: Reports defaulted to MACRO, and a DVP supervisor read "No team of this program is yours"."""
    page = browser_for(field.dvp_supervisor).get("/supervisor/reports/", follow=True)
    assert page.status_code == 200
    assert b"No team of this program is yours" not in page.content
    assert b"Scene responses per incident" in page.content and b"DVP reports" in page.content
