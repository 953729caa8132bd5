"""The report pages and the public statistics, clicked through in headless Chromium, one role at a time.

Each person signs in as they would, follows the links they would, and tries the other program's figures by
URL; the public page is read on a phone (375 px) and a laptop (1280 px) without sideways scrolling."""

import os
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents.models import Engagement, Incident, SceneResponse
from records.registry import get_spec
from records.writes import WriteContext, record_create
from tests.support import ON_VIEW, back_date, mutation, push

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "browser-report-pw-1"
TODAY = timezone.localdate()
# The month before last: closed whatever today's date.
CLOSED = ((TODAY.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1)
CLOSED_END = (CLOSED + timedelta(days=32)).replace(day=1)


@pytest.fixture(autouse=True)
def _sync_playwright_in_django():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    ARTIFACTS.mkdir(exist_ok=True)


def sign_in(browser, live_server, user, width=1280):
    user.set_password(PASSWORD)
    user.save()
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    page.goto(f"{live_server.url}/supervisor/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def create(actor, team, type_, **data):
    return record_create(spec=get_spec(type_), ctx=WriteContext(actor=actor, audit=False), data=data, team_id=team.pk)


def macro_day(field):
    """Today on van-1: three on-view contacts and a 911 dispatch; one on-view contact on van-2."""
    crew = field.api(field.responder)
    push(crew, *[mutation(n, record_id=uuid.uuid4(), fields=ON_VIEW) for n in (1, 2, 3)])
    push(
        crew,
        mutation(
            4,
            record_id=uuid.uuid4(),
            fields={"origin": "911_dispatch", "cad_number": "P26-1", "eligible": True, "disposition": "referred"},
        ),
    )
    push(field.api(field.other_team), mutation(1, record_id=uuid.uuid4(), fields=ON_VIEW))


def dvp_closed_month_with_a_late_response(field):
    """A shooting in a closed month with two scene responses then, and a third logged today."""
    at = timezone.make_aware(datetime.combine(CLOSED + timedelta(days=9), time(21)))
    incident = create(
        field.interrupter,
        field.team_d,
        "incident",
        dvp_number="D-77",
        kind="shooting",
        occurred_at=at.isoformat(),
        notified_at=(at + timedelta(minutes=5)).isoformat(),
    ).instance
    responses = [
        create(
            field.interrupter,
            field.team_d,
            "scene_response",
            incident=str(incident.pk),
            arrived_at=(at + timedelta(minutes=m)).isoformat(),
        ).instance.pk
        for m in (25, 40)
    ]
    back_date(Incident, [incident.pk], at + timedelta(hours=1))
    back_date(SceneResponse, responses, at + timedelta(hours=2))
    create(field.interrupter, field.team_d, "scene_response", incident=str(incident.pk))
    # And today, a shooting on zone-west (another DVP team) and one on zone-east.
    for team, actor, number in ((field.team_d2, field.interrupter_b, "W-1"), (field.team_d, field.interrupter, "E-1")):
        now = timezone.now()
        today = create(
            actor,
            team,
            "incident",
            dvp_number=number,
            kind="shooting",
            occurred_at=(now - timedelta(hours=1)).isoformat(),
            notified_at=(now - timedelta(minutes=50)).isoformat(),
        ).instance
        create(actor, team, "scene_response", incident=str(today.pk), arrived_at=now.isoformat())


def test_macro_analyst_reads_macro_reports_and_never_dvp(tfield, live_server, browser):
    macro_day(tfield)
    dvp_closed_month_with_a_late_response(tfield)
    page = sign_in(browser, live_server, tfield.macro_analyst)
    # Signed in, an analyst lands on the supervisor pages' "not for you" page, which points to the reports.
    page.get_by_role("link", name="Reports").first.click()
    page.get_by_role("heading", name="MACRO reports").wait_for()
    assert page.get_by_label("Period", exact=True).input_value() == "last_30_days"  # a period with today's work in it
    assert page.get_by_role("img", name="Origin mix over time").is_visible()
    assert page.get_by_role("img", name="On-view share and eligible share over time").is_visible()
    summary = page.locator("#table-summary")
    assert summary.get_by_role("row", name="Engagements").inner_text().split("\t")[-1].strip() == "5"
    origins = page.locator("#table-origins")
    assert "On-view (self-initiated)\t4" in origins.inner_text()  # labels, not codes
    assert "on_view" not in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "reports-macro-analyst.png"), full_page=True)

    # One team: the figures narrow to it.
    page.get_by_label("Team", exact=True).select_option(label="Van 1")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="MACRO reports").wait_for()
    assert summary.get_by_role("row", name="Engagements").inner_text().split("\t")[-1].strip() == "4"

    with page.expect_download() as download:
        page.get_by_role("link", name="Download “By team, month and origin” (CSV)").click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == "Team,Month,Origin,Engagements"
    assert f"Van 1,{TODAY.isoformat()[:7]},On-view (self-initiated),3" in text

    # Only MACRO to choose; DVP's figures by URL, page or CSV, get nothing.
    assert page.get_by_label("Program", exact=True).locator("option").all_inner_texts() == ["MACRO"]
    for path in ("/reports/?program=DVP", "/reports/summary.csv?program=DVP", "/reports/arrival.csv?program=DVP"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
        assert "Scene responses" not in page.content()

    # On a phone the page does not scroll sideways: wide tables scroll in their own box.
    phone = sign_in(browser, live_server, tfield.macro_analyst, width=375)
    phone.goto(f"{live_server.url}/reports/")
    phone.get_by_role("heading", name="MACRO reports").wait_for()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=str(ARTIFACTS / "reports-macro-analyst-375.png"), full_page=True)


def test_dvp_supervisor_clicking_reports_gets_dvp_figures_of_their_team(tfield, live_server, browser):
    """The issue: a DVP supervisor clicking Reports got "No team of this program is yours to report on"."""
    macro_day(tfield)
    dvp_closed_month_with_a_late_response(tfield)
    page = sign_in(browser, live_server, tfield.dvp_supervisor)
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="DVP reports").wait_for()
    assert "No team of this program is yours" not in page.content()
    summary = page.locator("#table-summary").inner_text()
    # Today's zone-east shooting, not zone-west's: a team supervisor sees their team.
    assert "Incidents with a scene response\t1" in summary
    arrival = page.locator("#table-arrival").inner_text()
    assert "30 to 60 min\t1" in arrival  # zone-east's shooting today: 50 minutes; zone-west's is not theirs
    assert "D-77" not in page.content()  # aggregates: no incident named
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Incidents by minutes from notification").click()
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0] == "Minutes,Incidents" and "30 to 60 min,1" in rows
    page.screenshot(path=str(ARTIFACTS / "reports-dvp-supervisor.png"), full_page=True)

    # MACRO's figures and the other DVP team's, by URL: nothing.
    assert page.goto(f"{live_server.url}/reports/?program=MACRO").status == 403
    assert page.goto(f"{live_server.url}/reports/team-month.csv?program=MACRO").status == 403
    assert page.goto(f"{live_server.url}/reports/?program=DVP&team={tfield.team_d2.pk}").status == 404
    assert page.goto(f"{live_server.url}/supervisor/reports/?program=MACRO").status == 403


def test_dvp_analyst_sees_a_closed_month_as_it_closed_with_the_late_record_apart(tfield, live_server, browser):
    """The issue: November's scene responses per incident went from 2.0 to 3.0 when one was logged later."""
    dvp_closed_month_with_a_late_response(tfield)
    page = sign_in(browser, live_server, tfield.dvp_analyst)
    page.goto(f"{live_server.url}/reports/")
    page.get_by_label("Period", exact=True).select_option(label="Dates below")
    page.get_by_label("From", exact=True).fill(CLOSED.isoformat())
    page.get_by_label("Up to (not including)", exact=True).fill(CLOSED_END.isoformat())
    page.get_by_role("button", name="Show").click()
    page.get_by_text("This period closed on").wait_for()
    summary = page.locator("#table-summary")
    assert summary.get_by_role("row", name="Scene responses per incident").inner_text().endswith("2")
    adjustments = page.locator(".adjustments").inner_text()
    assert f"+1 scene response recorded after close ({TODAY.day} {TODAY.strftime('%b %Y')})" in adjustments
    page.screenshot(path=str(ARTIFACTS / "reports-dvp-analyst-closed.png"), full_page=True)

    page.get_by_role("link", name="Show the figures with later records included").click()
    page.get_by_text("including those recorded after the period closed").wait_for()
    assert summary.get_by_role("row", name="Scene responses per incident").inner_text().endswith("3")

    # As of a day, the figures as they stood then: before the shooting was even received, nothing.
    page.get_by_label("As of (end of day)", exact=True).fill((CLOSED + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Figures as they stood at the end of").wait_for()
    responses = summary.locator("tr", has=page.get_by_role("rowheader", name="Scene responses", exact=True))
    assert responses.inner_text().endswith("0")


def test_public_visitor_reads_labelled_monthly_counts_on_a_phone_and_a_laptop(tfield, live_server, browser):
    made = []
    for origin, n in (("on_view", 12), ("community_referral", 20), ("911_dispatch", 3)):
        for _ in range(n):
            data = {"origin": origin, **({"cad_number": "P"} if origin == "911_dispatch" else {})}
            made.append(create(tfield.program_supervisor, tfield.team_a, "engagement", **data).instance.pk)
    back_date(Engagement, made, timezone.make_aware(datetime.combine(CLOSED + timedelta(days=3), time(12))))
    month = CLOSED.strftime("%B %Y")
    for width in (375, 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{live_server.url}/public/stats")
        page.get_by_role("heading", name="Oakland non-police response: monthly counts").wait_for()
        text = page.locator("main").inner_text()
        assert "MACRO:" not in text and "911_dispatch" not in text  # labels, not codes
        assert "Community referral" in text and "DVP scene responses" in text
        row = page.get_by_role("row", name=month).inner_text()
        assert "20" in row and "35" in row and "hidden" in row  # 12 and 3 are hidden, the month's total shown
        assert "Small counts are hidden" in text
        assert no_sideways_scroll(page), width
        page.screenshot(path=str(ARTIFACTS / f"public-stats-{width}.png"), full_page=True)
        # The period picker: one year's published months.
        page.get_by_label("Months shown").select_option(value=str(CLOSED.year))
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"**/public/stats?year={CLOSED.year}")
        assert page.get_by_role("row", name=month).is_visible()
    # In Spanish, on a phone: longer words, still no sideways scroll.
    page = browser.new_page(viewport={"width": 375, "height": 900}, locale="es-MX")
    page.goto(f"{live_server.url}/public/stats")
    page.get_by_role("heading", name="Respuesta no policial de Oakland: cifras mensuales").wait_for()
    assert "Despacho del 911" in page.locator("main").inner_text()
    assert no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "public-stats-es-375.png"), full_page=True)


def test_a_crew_member_is_told_reports_are_not_for_them(tfield, live_server, browser):
    page = sign_in(browser, live_server, tfield.responder)
    response = page.goto(f"{live_server.url}/reports/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Reports are for supervisors, coordinators").is_visible()
