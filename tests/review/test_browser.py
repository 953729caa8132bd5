"""A supervisor reviews a shift in a real browser: headless Chromium (Debian's) driven by Playwright."""

import uuid
from pathlib import Path

import pytest

from incidents.models import Shift
from records.models import Conflict
from tests.support import ON_VIEW, mutation, push

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_supervisor_approves_returns_and_resolves_in_a_browser(tfield, live_server, browser):
    import os

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    ARTIFACTS.mkdir(exist_ok=True)
    crew, supervisor = tfield.api(tfield.responder), tfield.supervisor
    supervisor.set_password("browser-review-pw-1")
    supervisor.save()
    shifts = []
    for n, call_sign in enumerate(("MACRO 31", "MACRO 32")):
        sid = uuid.uuid4()
        push(
            crew,
            mutation(
                2 * n + 1,
                type_="shift",
                record_id=sid,
                fields={
                    "call_sign": call_sign,
                    "started_at": "2026-11-24T07:00:00Z",
                    "ended_at": "2026-11-24T15:00:00Z",
                },
            ),
            mutation(2 * n + 2, fields={**ON_VIEW, "shift": str(sid)}),
        )
        crew.post(f"/api/v1/shifts/{sid}/submit")
        shifts.append(sid)
    rid = uuid.uuid4()
    push(crew, mutation(5, record_id=rid, fields=ON_VIEW))
    push(
        tfield.api(tfield.partner),
        mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "referred"}),
    )
    push(crew, mutation(6, "update", record_id=rid, base_version=1, fields={"disposition": "transported"}))

    page = browser.new_page(viewport={"width": 1024, "height": 768})  # a tablet
    page.goto(f"{live_server.url}/supervisor/")
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill("browser-review-pw-1")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/supervisor/")
    page.screenshot(path=str(ARTIFACTS / "supervisor-home.png"), full_page=True)

    page.get_by_role("link", name="MACRO 31").click()
    page.screenshot(path=str(ARTIFACTS / "supervisor-shift.png"), full_page=True)
    page.get_by_role("link", name="Approve and lock…").click()
    page.get_by_role("button", name="Yes, approve and lock").click()
    page.get_by_text("Shift log approved and locked.").wait_for()

    page.goto(f"{live_server.url}/supervisor/")
    page.get_by_role("link", name="MACRO 32").click()
    page.get_by_label("What should the crew fix?").fill("The 11:30 contact needs its CAD number.")
    page.get_by_role("button", name="Return to crew").click()
    page.get_by_text("Shift log returned to the crew.").wait_for()

    page.get_by_role("link", name="Conflicts").click()
    page.screenshot(path=str(ARTIFACTS / "supervisor-conflicts.png"), full_page=True)
    page.get_by_role("button", name="Take held-back value").click()
    page.get_by_text("Conflict resolved.").wait_for()

    from django.utils import timezone

    today = timezone.localdate()
    page.goto(
        f"{live_server.url}/supervisor/reports/?program=MACRO&start={today}&end={today.replace(year=today.year + 1)}"
    )
    page.get_by_role("img", name="Origin mix over time").wait_for()
    page.screenshot(path=str(ARTIFACTS / "supervisor-reports.png"), full_page=True)

    assert Shift.objects.get(pk=shifts[0]).review_status == "approved"
    returned = Shift.objects.get(pk=shifts[1])
    assert (returned.review_status, returned.review_comment) == ("returned", "The 11:30 contact needs its CAD number.")
    assert Conflict.objects.get(record_id=rid).resolution == "take_incoming"
