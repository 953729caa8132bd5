"""Supervisors (MACRO and DVP) and a coordinator do their work in headless Chromium, on a tablet and a phone;
the wall holds for people who type others' URLs. Screenshots go to test-artifacts/ (and SHOTS_DIR if set)."""

import os
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents.models import Engagement, FollowUpCase, Shift
from notifications.models import Notification
from responders.models import Role
from sync.models import Mutation
from tests.support import ON_VIEW, mutation, push

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "people-browser-pw-1"
PHONE = {"width": 375, "height": 740}
TABLET = {"width": 1024, "height": 768}


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("SHOTS_DIR"):
        Path(os.environ["SHOTS_DIR"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["SHOTS_DIR"]) / path.name)


def fits(page):
    """Nothing wider than the screen: no sideways scrolling at 375 px."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in(browser, live_server, user, viewport=TABLET):
    if not user.check_password(PASSWORD):  # a new password would sign out the user's other sessions
        user.set_password(PASSWORD)
        user.save()
    page = browser.new_page(viewport=viewport)
    page.goto(f"{live_server.url}/supervisor/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_macro_supervisor_reads_the_log_approves_and_fixes_a_rejected_change(tfield, live_server, browser):
    field = tfield
    field.partner.first_name, field.partner.last_name = "Rosa", "Marin"
    field.partner.save()
    crew = field.api(field.responder)
    sid, eid = uuid.uuid4(), uuid.uuid4()
    push(
        crew,
        mutation(
            1,
            type_="shift",
            record_id=sid,
            fields={
                "call_sign": "MACRO 31",
                "started_at": "2026-11-24T07:00:00-08:00",
                "ended_at": "2026-11-24T15:00:00-08:00",
                "crew": [field.responder.pk, field.partner.pk],
                "status_timeline": [{"status": "en_route", "at": "2026-11-24T07:10:00-08:00"}],
            },
        ),
        mutation(
            2,
            record_id=eid,
            fields={
                **ON_VIEW,
                "shift": str(sid),
                "address": "Foothill Blvd & Seminary Ave",
                "needs": ["basic_needs"],
                "disposition": "declined_services",
            },
        ),
    )
    push(field.api(field.partner), mutation(1, "update", record_id=eid, base_version=1, fields={"beat": "26X"}))
    rejected = mutation(3, fields={"origin": "911_dispatch", "address": "Broadway & 14th", "shift": str(sid)})
    push(crew, rejected)
    crew.post(f"/api/v1/shifts/{sid}/submit")

    page = sign_in(browser, live_server, field.supervisor)
    page.get_by_role("link", name="MACRO 31").click()
    page.get_by_text("Rosa Marin").wait_for()
    page.get_by_text("Basic needs (food, water, clothing)").wait_for()
    assert "basic_needs" not in page.content() and "declined_services" not in page.content()
    shot(page, "macro-supervisor-shift")
    page.get_by_role("link", name="Engagement · On-view (self-initiated)").first.click()
    page.get_by_role("heading", name="Version history").wait_for()
    page.get_by_text("26X").first.wait_for()
    shot(page, "macro-supervisor-record-history")
    page.go_back()

    # Approve asks first.
    page.get_by_role("link", name="Approve and lock…").click()
    page.get_by_role("heading", name="Approve and lock shift log MACRO 31?").wait_for()
    assert Shift.objects.get(pk=sid).review_status == "submitted"
    shot(page, "macro-supervisor-approve-confirm")
    page.get_by_role("button", name="Yes, approve and lock").click()
    page.get_by_text("Shift log approved and locked.").wait_for()
    assert Shift.objects.get(pk=sid).review_status == "approved"

    # The rejected 911 dispatch: the server's message per field, fixed and resent for its author.
    page.get_by_role("link", name="Quarantine").click()
    page.get_by_text("A 911 dispatch needs its CAD number.").wait_for()
    assert "validation_error" not in page.content()
    shot(page, "macro-supervisor-quarantine")
    phone = sign_in(browser, live_server, field.supervisor, PHONE)
    phone.goto(f"{live_server.url}/supervisor/quarantine/")
    assert fits(phone)
    shot(phone, "phone-quarantine")
    page.get_by_role("link", name="Fix and resend").click()
    page.get_by_role("heading", name="Fix and resend: New engagement").wait_for()
    page.locator("#f_cad_number").fill("OPD-26-0042")
    shot(page, "macro-supervisor-quarantine-fix")
    page.get_by_role("button", name="Resend on the author's behalf").click()
    page.get_by_text("Resent on behalf of").wait_for()
    replay = Mutation.objects.get(replayed_by=field.supervisor)
    assert replay.user == field.responder
    fixed = Engagement.objects.get(pk=rejected["id"])
    assert (fixed.created_by, fixed.cad_number) == (field.responder, "OPD-26-0042")

    # On a phone: the same pages, nothing wider than the screen.
    for url, name in (
        (f"/supervisor/shifts/{sid}/", "phone-macro-shift"),
        (f"/supervisor/records/engagement/{eid}/", "phone-record-history"),
        ("/supervisor/", "phone-home"),
    ):
        phone.goto(f"{live_server.url}{url}")
        assert fits(phone), url
        shot(phone, name)


def test_dvp_supervisor_reads_a_dvp_log_and_returns_it(tfield, live_server, browser):
    field = tfield
    api = field.api(field.interrupter)
    sid, incident, case = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    push(
        api,
        mutation(
            1,
            type_="shift",
            record_id=sid,
            fields={
                "call_sign": "DVP East 2",
                "started_at": "2026-11-24T20:00:00-08:00",
                "ended_at": "2026-11-25T04:00:00-08:00",
                "crew": [field.interrupter.pk, field.coordinator.pk],
            },
        ),
        mutation(
            2,
            type_="incident",
            record_id=incident,
            fields={"dvp_number": "DVP-2026-0412", "kind": "shooting", "occurred_at": "2026-11-24T19:30:00-08:00"},
        ),
        mutation(
            3,
            type_="scene_response",
            fields={
                "incident": str(incident),
                "shift": str(sid),
                "arrived_at": "2026-11-24T20:30:00-08:00",
                "risk_level": "high",
                "risk_reasons": "Talk of payback.",
                "people_reached": {"family": 4},
            },
        ),
        mutation(
            4,
            type_="scene_response",
            fields={"incident": str(incident), "shift": str(sid), "arrived_at": "2026-11-24T23:00:00-08:00"},
        ),
        mutation(5, type_="follow_up_case", record_id=case, fields={"persons": [{"alias": "Cousin"}]}),
        mutation(
            6,
            type_="contact_attempt",
            fields={"case": str(case), "attempted_at": "2026-11-24T21:00:00-08:00", "mode": "phone", "made": False},
        ),
    )
    push(
        field.api(field.coordinator),
        mutation(
            1,
            type_="contact_attempt",
            fields={
                "case": str(case),
                "attempted_at": "2026-11-25T01:15:00-08:00",
                "mode": "in_person",
                "made": True,
                "outcome": "mediation_held",
            },
        ),
    )
    api.post(f"/api/v1/shifts/{sid}/submit")

    page = sign_in(browser, live_server, field.dvp_supervisor)
    page.get_by_role("link", name="DVP East 2").click()
    page.get_by_role("heading", name="2 scene responses").wait_for()
    page.get_by_role("heading", name="2 contact attempts").wait_for()
    content = page.content()
    assert "Calls offered by dispatch" not in content and content.count("DVP-2026-0412") == 1
    assert "Mediation held" in content and "mediation_held" not in content
    shot(page, "dvp-supervisor-shift")
    page.get_by_label("What should the crew fix?").fill("Add who went to the second visit.")
    page.get_by_role("button", name="Return to crew").click()
    page.get_by_text("Shift log returned to the crew.").wait_for()
    page.get_by_text("Add who went to the second visit.").wait_for()
    assert Notification.objects.filter(kind="shift_returned", recipient=field.interrupter).exists()
    shot(page, "dvp-supervisor-returned")


def test_coordinator_works_the_follow_up_lists(tfield, live_server, browser):
    field = tfield
    today = timezone.localdate()
    api = field.api(field.coordinator)
    overdue, due = uuid.uuid4(), uuid.uuid4()
    push(
        api,
        *[
            mutation(
                i + 1,
                type_="follow_up_case",
                record_id=rid,
                fields={
                    "persons": [{"alias": alias, "age_band": "18_24"}],
                    "assigned_to": field.interrupter.pk,
                    "next_contact_due": (today + timedelta(days=days)).isoformat(),
                },
            )
            for i, (rid, alias, days) in enumerate([(overdue, "Cousin", -1), (due, "Friend of victim", 2)])
        ],
        mutation(
            3,
            type_="contact_attempt",
            fields={
                "case": str(overdue),
                "attempted_at": "2026-11-24T09:00:00-08:00",
                "mode": "phone",
                "made": False,
                "outcome": "no_answer",
            },
        ),
    )
    second = field.user("interrupter_two", field.dvp, field.team_d, Role.FIELD_RESPONDER)
    second.first_name, second.last_name = "Dana", "Ruiz"
    second.save()

    page = sign_in(browser, live_server, field.coordinator)
    page.get_by_role("heading", name="Follow-ups due in the next 7 days").wait_for()
    shot(page, "coordinator-due")
    page.get_by_role("link", name="Overdue", exact=True).click()
    page.get_by_role("link", name="Follow-up case · Cousin · Open").click()
    page.get_by_text("1 contact attempt, 0 made").wait_for()
    page.get_by_text("No answer").first.wait_for()
    page.get_by_label("Reassign to").select_option(str(second.pk))
    page.get_by_role("button", name="Reassign").click()
    page.get_by_text("Case reassigned.").wait_for()
    page.get_by_label("Why close this case?").fill("Family moved out of state.")
    page.get_by_role("button", name="Close the case").click()
    page.get_by_text("Case closed.").wait_for()
    shot(page, "coordinator-case")
    case = FollowUpCase.objects.get(pk=overdue)
    assert (case.assigned_to, case.status) == (second, "closed")
    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("heading", name="Incidents and scene responses").wait_for()

    phone = sign_in(browser, live_server, field.coordinator, PHONE)
    for url, name in (
        ("/supervisor/follow-ups/?view=all", "phone-coordinator-list"),
        (f"/supervisor/follow-ups/{due}/", "phone-coordinator-case"),
    ):
        phone.goto(f"{live_server.url}{url}")
        assert fits(phone), url
        shot(phone, name)


def test_the_wall_in_the_browser(tfield, live_server, browser):
    """A DVP supervisor, a MACRO supervisor of another team and a MACRO analyst open van-1's pages by URL."""
    field = tfield
    crew = field.api(field.responder)
    sid, eid = uuid.uuid4(), uuid.uuid4()
    push(
        crew,
        mutation(
            1,
            type_="shift",
            record_id=sid,
            fields={
                "call_sign": "MACRO 31",
                "started_at": "2026-11-24T07:00:00-08:00",
                "ended_at": "2026-11-24T15:00:00-08:00",
            },
        ),
        mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid), "notes": "VAN-ONE-NOTE"}),
    )
    other = field.user("supervisor_b", field.macro, field.team_b, Role.SUPERVISOR)
    for user in (field.dvp_supervisor, other, field.macro_analyst):
        page = sign_in(browser, live_server, user)
        for url in (f"/supervisor/shifts/{sid}/", f"/supervisor/records/engagement/{eid}/"):
            answer = page.goto(f"{live_server.url}{url}")
            assert answer.status in (403, 404), (user.username, url, answer.status)
            assert "VAN-ONE-NOTE" not in page.content() and "MACRO 31" not in page.content()
        page.close()
