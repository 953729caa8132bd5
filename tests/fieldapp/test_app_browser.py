"""The field app at /app/ in headless Chromium, used as a crew member would: taps, offline, reloads."""

import re
import time
import uuid
from pathlib import Path

import pytest

from incidents.models import Engagement, Incident, Shift
from records.models import Conflict

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "field-app"
PASSWORD = "field-app-test-pw-1"
PHONE = {"width": 375, "height": 812}


def with_password(*users):
    for user in users:
        user.set_password(PASSWORD)
        user.new_devices_allowed = 10  # each browser is a new phone (tests/responders/test_devices.py: approval)
        user.save()


class Phone:
    """One person's browser: its own storage, service worker and IndexedDB."""

    def __init__(self, browser, live_server, name, registry=None):
        if registry is not None:
            registry.append(self)
        self.context = browser.new_context(viewport=PHONE)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.url = f"{live_server.url}/app/"
        self.name = name

    def open(self):
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]")
        # The worker must control the page before the network is cut (machine-notes.md).
        self.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        self.page.reload()
        self.page.wait_for_selector("body[data-ready=true]")
        assert self.page.evaluate("!!navigator.serviceWorker.controller")
        return self

    def sign_in(self, user):
        self.page.get_by_label("Username").fill(user.username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_text("All edits synced").wait_for()
        return self

    def offline(self, value=True):
        self.context.set_offline(value)

    def sync(self, seconds=30):
        """Tap "Sync now" and wait until a sync that started after the tap has finished."""
        self.page.get_by_role("button", name="Sync now").click()
        wanted = int(self.page.get_attribute("body", "data-sync-requested"))
        deadline = time.monotonic() + seconds
        while int(self.page.get_attribute("body", "data-synced") or 0) < wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: the sync asked for did not finish in {seconds} s")
            time.sleep(0.05)
        self.page.get_by_text("All edits synced").wait_for()

    def shot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        assert not self.errors, self.errors
        self.context.close()


def start_shift(phone, partner=None):
    page = phone.page
    page.get_by_label("Van / unit").fill("MACRO 7")
    if partner is not None:
        page.get_by_label("Partner").select_option(str(partner.pk))
    page.get_by_role("button", name="Start a shift").click()
    page.get_by_role("link", name="Log on-view").wait_for()


def log_on_view(page, alias="Blue jacket", disposition="Referred"):
    """The fast path a crew member takes; returns (taps and keystroke fields, seconds)."""
    started = time.monotonic()
    steps = 0
    page.get_by_role("link", name="Log on-view").click()
    steps += 1
    page.get_by_label("Alias").fill(alias)
    steps += 1
    page.get_by_role("button", name="35–44").click()
    page.get_by_role("button", name="Housing / unsheltered").click()
    page.get_by_role("button", name="Resource navigation").click()
    page.get_by_role("button", name="One more: Water").click()
    page.get_by_role("button", name="One more: Water").click()
    page.get_by_role("button", name="One more: Hygiene kit").click()
    page.get_by_role("button", name=disposition, exact=True).click()
    steps += 7
    page.get_by_role("button", name="Save").click()
    steps += 1
    page.get_by_text("Saved. It will sync when there is signal.").wait_for()
    return steps, time.monotonic() - started


def test_sign_in_log_on_view_and_the_supervisor_sees_it(tfield, live_server, browser, phones):
    with_password(tfield.responder, tfield.supervisor)
    phone = Phone(browser, live_server, "emt", phones).open()
    phone.shot("01-sign-in")
    phone.sign_in(tfield.responder)
    phone.shot("02-start-shift")
    start_shift(phone, partner=tfield.partner)
    phone.shot("03-shift-home")
    phone.page.get_by_role("link", name="Log on-view").click()
    phone.shot("04-log-on-view")
    phone.page.get_by_role("link", name="Cancel").click()
    steps, seconds = log_on_view(phone.page)
    print(f"\nOn-view engagement logged in {steps} steps, {seconds:.2f} s (browser time, excluding sync)")
    (ARTIFACTS / "on-view-timing.txt").write_text(f"steps={steps} seconds={seconds:.2f}\n")
    assert seconds < 30
    phone.sync()

    shift = Shift.objects.get(call_sign="MACRO 7")
    assert sorted(shift.crew) == sorted([tfield.responder.pk, tfield.partner.pk])
    engagement = Engagement.objects.get(shift=shift)
    assert engagement.origin == "on_view" and engagement.disposition == "referred"
    assert engagement.supplies == {"water": 2, "hygiene_kit": 1}
    assert engagement.needs == ["housing"] and engagement.persons == [{"alias": "Blue jacket", "age_band": "35_44"}]
    assert engagement.created_on_device_id is not None and engagement.on_scene_at is not None

    supervisor = browser.new_page(viewport={"width": 1024, "height": 768})
    supervisor.goto(f"{live_server.url}/supervisor/")
    supervisor.get_by_label("Username").fill(tfield.supervisor.username)
    supervisor.get_by_label("Password").fill(PASSWORD)
    supervisor.get_by_role("button", name="Sign in").click()
    supervisor.get_by_role("link", name="MACRO 7").click()
    # The shift log shows each record as the crew wrote it, in labels (review/templates/review/parts/card.html).
    supervisor.locator("dd", has_text="On-view (self-initiated)").first.wait_for()
    assert supervisor.get_by_role("heading", name="1 engagement").count() == 1

    # The crew ends and submits the shift log; the supervisor returns it; the app opens it on the comment.
    phone.page.get_by_role("link", name="Shift log").click()
    phone.page.get_by_role("button", name="End shift and submit for review").click()
    phone.page.get_by_text("Shift log submitted for review.").wait_for()
    shift.refresh_from_db()
    assert shift.review_status == "submitted" and shift.ended_at is not None
    supervisor.reload()
    supervisor.get_by_label("What should the crew fix?").fill("Add the cross street for the bus stop contact.")
    supervisor.get_by_role("button", name="Return to crew").click()
    supervisor.get_by_text("Shift log returned to the crew.").wait_for()
    supervisor.close()
    returned = phone.page.get_by_role("link", name="Your supervisor returned this shift log")

    def shows_the_return():
        phone.page.get_by_role("link", name="Field records").click()
        return returned.count() == 1

    sync_until(phone, shows_the_return)
    returned.click()
    comment = phone.page.locator("#return-comment")
    comment.get_by_text("Add the cross street for the bus stop contact.").wait_for()
    assert phone.page.evaluate("document.activeElement.id") == "return-comment"
    phone.shot("05-returned-shift-log")
    phone.close()


def test_network_cut_reload_offline_then_sync_sends_each_record_once(tfield, live_server, browser, phones):
    with_password(tfield.responder)
    phone = Phone(browser, live_server, "emt", phones).open().sign_in(tfield.responder)
    start_shift(phone)
    phone.sync()
    page = phone.page

    phone.offline()
    page.get_by_text("Offline", exact=True).wait_for()
    for alias in ("Anna", "Ben", "Cleo"):
        log_on_view(page, alias=alias)
    page.get_by_role("link", name="Ben").click()
    page.get_by_role("button", name="Transported").click()
    page.get_by_role("button", name="Medical").click()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("3 edits waiting to sync").wait_for()
    phone.shot("06-offline-outbox")

    page.reload()  # offline: the service worker serves the app, IndexedDB still holds the outbox
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_text("3 edits waiting to sync").wait_for()
    for alias in ("Anna", "Ben", "Cleo"):
        page.get_by_role("link", name=alias).wait_for()
    assert Engagement.objects.count() == 0

    # The first push is answered by the server but the answer never reaches the phone.
    lost = []

    def lose_answer(route):
        if not lost:
            lost.append(route.fetch().status)
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/sync/push", lose_answer)
    phone.offline(False)
    page.get_by_text("No connection to the server; your edits are kept.").wait_for()
    assert lost == [200] and Engagement.objects.count() == 3
    page.get_by_text("3 edits waiting to sync").wait_for()
    phone.sync()

    rows = {e.persons[0]["alias"]: e for e in Engagement.objects.all()}
    assert sorted(rows) == ["Anna", "Ben", "Cleo"] and Engagement.objects.count() == 3
    assert rows["Ben"].disposition == "transported" and sorted(rows["Ben"].needs) == ["housing", "medical"]
    assert rows["Anna"].disposition == "referred" and rows["Anna"].supplies == {"water": 2, "hygiene_kit": 1}
    assert {e.version for e in rows.values()} == {1}
    shift = Shift.objects.get()
    assert all(e.shift_id == shift.pk for e in rows.values())
    phone.close()


def open_engagement(phone, alias):
    phone.page.get_by_role("link", name=alias).click()
    phone.page.get_by_role("button", name="Save").wait_for()


def test_two_partners_edit_one_engagement_offline_and_the_conflict_is_said_in_words(
    tfield, live_server, browser, phones
):
    with_password(tfield.responder, tfield.partner)
    emt = Phone(browser, live_server, "emt", phones).open().sign_in(tfield.responder)
    start_shift(emt, partner=tfield.partner)
    log_on_view(emt.page, alias="Dee", disposition="Referred")
    emt.sync()
    specialist = Phone(browser, live_server, "specialist", phones).open().sign_in(tfield.partner)
    specialist.page.get_by_role("link", name="Dee").wait_for()  # the shift names the partner: it is theirs too

    emt.offline()
    specialist.offline()
    open_engagement(emt, "Dee")
    emt.page.get_by_role("button", name="Transported").click()
    emt.page.get_by_role("button", name="Medical").click()
    emt.page.get_by_role("button", name="Save").click()
    open_engagement(specialist, "Dee")
    specialist.page.get_by_role("button", name="Resolved on scene").click()
    specialist.page.get_by_role("button", name="One more: Water").click()
    specialist.page.get_by_role("button", name="Substance use").click()
    specialist.page.get_by_role("button", name="Save").click()

    emt.offline(False)
    emt.sync()
    specialist.offline(False)
    said = specialist.page.get_by_text(
        "Someone else changed Disposition first. The server kept their value (Transported); "
        "yours (Resolved on scene) went to the supervisor for review."
    )
    sync_until(specialist, lambda: said.count() == 1)
    specialist.page.get_by_text("Your edit was combined with changes made on another phone (Needs).").wait_for()
    specialist.shot("07-conflict-in-words")
    emt.sync()

    engagement = Engagement.objects.get()
    assert engagement.disposition == "transported"
    assert engagement.supplies == {"water": 3, "hygiene_kit": 1}
    assert sorted(engagement.needs) == ["housing", "medical", "substance_use"]
    conflict = Conflict.objects.get(record_id=engagement.pk)
    assert (conflict.field, conflict.incoming_value) == ("disposition", "resolved_on_scene")
    for phone in (emt, specialist):
        sync_until(phone, lambda phone=phone: shows_dee_as_the_server_has_it(phone))
        phone.close()


def shows_dee_as_the_server_has_it(phone):
    page = phone.page
    page.get_by_role("link", name="Field records").click()
    open_engagement(phone, "Dee")
    pressed = {
        name: page.get_by_role("button", name=name, exact=True).get_attribute("aria-pressed")
        for name in ("Transported", "Resolved on scene", "Medical", "Substance use", "Housing / unsheltered")
    }
    water = page.locator(".counter", has_text="Water").locator("output").inner_text()
    expected = {
        "Transported": "true",
        "Resolved on scene": "false",
        "Medical": "true",
        "Substance use": "true",
        "Housing / unsheltered": "true",
    }
    return (pressed, water) == (expected, "3")


def sync_until(phone, check, seconds=30):
    """Sync until the screen shows what the server holds.

    A pull shows only changes below the oldest transaction running on the shared PostgreSQL server, so a
    change can arrive a pull or two late (docs/sync-protocol.md); nothing is skipped. Fails loudly if the
    phone has not caught up within `seconds`.
    """
    deadline = time.monotonic() + seconds
    while True:
        phone.sync()
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{phone.name}'s screen did not catch up with the server in {seconds} s")
        time.sleep(0.5)


def test_a_rejected_edit_is_shown_fixed_in_the_form_and_resent(tfield, live_server, browser, phones):
    with_password(tfield.interrupter, tfield.coordinator)
    Incident.objects.create(
        id=uuid.uuid4(),
        program=tfield.dvp,
        team=tfield.team_d,
        created_by=tfield.coordinator,
        dvp_number="DVP-2026-100",
        kind="shooting",
        occurred_at="2026-11-30T22:00:00Z",
    )
    phone = Phone(browser, live_server, "interrupter", phones).open().sign_in(tfield.interrupter)
    page = phone.page
    page.get_by_role("link", name="DVP-2026-100").wait_for()
    phone.shot("08-dvp-home")
    page.get_by_role("link", name="New incident").click()
    assert page.get_by_label("Police case number").count() == 0  # coordinators only
    page.get_by_label("DVP incident number").fill("DVP-2026-100")
    page.get_by_role("button", name="Shooting").click()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("1 edits need fixing").wait_for()
    page.get_by_role("link", name="1 edits need fixing").click()
    page.get_by_text("Another incident of this program has this DVP number.", exact=False).wait_for()
    phone.shot("09-rejected")
    page.get_by_role("link", name="Fix and resend").click()
    number = page.get_by_label("DVP incident number")
    assert number.input_value() == "DVP-2026-100"
    number.fill("DVP-2026-101")
    page.get_by_role("button", name="Resend").click()
    page.get_by_text("All edits synced").wait_for()
    page.get_by_text("need fixing").wait_for(state="hidden")
    fixed = Incident.objects.get(dvp_number="DVP-2026-101")
    assert fixed.created_by == tfield.interrupter and Incident.objects.count() == 2

    # DVP flows: a scene response with its risk, a follow-up case, a contact attempt in two taps.
    page.get_by_role("link", name="Home").click() if page.get_by_role("link", name="Home").count() else None
    page.goto(phone.url)
    page.get_by_role("link", name="Log a scene response").first.click()
    page.get_by_role("button", name="High").click()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Say why the risk is elevated or high.").first.wait_for()  # checked before saving
    page.get_by_label("Why this risk level").fill("Threats on social media against the family.")
    page.get_by_role("button", name="One more: Family").click()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="New follow-up case").click()
    page.get_by_label("Alias").fill("Cousin J")
    page.get_by_label("Next contact due").fill("2026-01-02")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Overdue").wait_for()
    page.get_by_role("button", name="Contact attempt").click()
    page.get_by_role("button", name="Reached by phone").click()
    page.get_by_text("Saved. It will sync when there is signal.").wait_for()
    phone.sync()
    phone.shot("10-dvp-follow-ups")
    from incidents.models import ContactAttempt, SceneResponse

    response = SceneResponse.objects.get()
    assert (response.risk_level, response.people_reached) == ("high", {"family": 1})
    attempt = ContactAttempt.objects.get()
    assert (attempt.made, attempt.mode, attempt.outcome) == (True, "phone", "reached")
    assert attempt.case.persons == [{"alias": "Cousin J"}]
    phone.close()

    coordinator = Phone(browser, live_server, "coordinator", phones).open().sign_in(tfield.coordinator)
    coordinator.page.get_by_role("link", name="New incident").click()
    coordinator.page.get_by_label("Police case number").wait_for()
    coordinator.close()


def test_session_end_busy_server_unknown_answers_revocation_and_sign_out(tfield, live_server, browser, phones):
    """The protocol's hard answers, seen from the app: nothing is lost, and the reason is on screen."""
    import json

    from responders.models import Device, TokenFamily

    with_password(tfield.responder)
    phone = Phone(browser, live_server, "emt", phones).open().sign_in(tfield.responder)
    page = phone.page
    start_shift(phone)
    phone.sync()

    # A session that ended on the server: sign in again, and the edit made meanwhile is still there.
    phone.offline()
    log_on_view(page, alias="Eve")
    TokenFamily.objects.filter(user=tfield.responder).update(revoked_at="2026-12-01T00:00:00Z")
    phone.offline(False)
    page.get_by_text("Your session ended. Sign in again to sync; your edits are kept.").wait_for()
    assert Engagement.objects.count() == 0
    device_id = page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('field-records'); r.onsuccess = () => {
          const q = r.result.transaction('meta').objectStore('meta').get('devices');
          q.onsuccess = () => ok(JSON.stringify(q.result.v)); }; })"""
    )
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("All edits synced").wait_for()
    assert Engagement.objects.get().persons == [{"alias": "Eve", "age_band": "35_44"}]
    assert Device.objects.filter(user=tfield.responder).count() == 1  # the same device id after re-sign-in
    assert str(Device.objects.get(user=tfield.responder).pk) == json.loads(device_id)[tfield.responder.username]

    # A busy server (503 + Retry-After), then an answer status this app does not know: kept, said, resent.
    calls = []

    def busy_then_unknown(route):
        calls.append(route.request.post_data_json["mutations"][0]["mutation_id"])
        if len(calls) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1"}, json={"code": "server_busy", "message": "Busy."})
        elif len(calls) == 2:
            body = route.fetch().json()
            for result in body["results"]:
                result["status"] = "reviewed_later"
            route.fulfill(status=200, json=body)
        else:
            route.continue_()

    page.route("**/api/v1/sync/push", busy_then_unknown)
    log_on_view(page, alias="Finn")
    page.get_by_text("The server is busy; trying again in 1 s.").wait_for()
    page.get_by_text("which this app does not know. The edit is kept and will be sent again.").wait_for()
    page.get_by_text("1 edit waiting to sync").wait_for()
    phone.sync()
    assert len(set(calls)) == 1 and len(calls) == 3  # one edit, sent three times, never with a new id
    assert Engagement.objects.filter(persons__0__alias="Finn").count() == 1
    page.unroute("**/api/v1/sync/push")

    # An expired cursor: the app pulls again from the start and keeps everything it should.
    expired = []

    def cursor_expired(route):
        if "cursor=" in route.request.url and not expired:
            expired.append(route.request.url)
            route.fulfill(status=410, json={"code": "cursor_expired", "message": "Start again."})
        else:
            route.continue_()

    pulls = re.compile(r"/api/v1/sync/pull\?")
    page.route(pulls, cursor_expired)
    phone.sync()
    assert expired
    page.get_by_role("link", name="Eve").wait_for()
    page.get_by_role("link", name="Finn").wait_for()
    page.unroute(pulls)

    # Signing out with an edit not yet sent warns first.
    phone.offline()
    log_on_view(page, alias="Gus")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("1 edits have not reached the server.").wait_for()
    phone.shot("11-sign-out-warning")
    page.get_by_role("button", name="Stay signed in").click()
    phone.offline(False)
    phone.sync()
    assert Engagement.objects.count() == 3

    # A revoked phone stops syncing and says why.
    Device.objects.filter(user=tfield.responder).update(revoked_at="2026-12-01T00:00:00Z")
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("This phone was revoked: syncing stopped. Ask your supervisor.").wait_for()
    assert page.get_by_role("button", name="Sync now").is_disabled()
    phone.close()


def test_spanish_and_375_px_without_sideways_scrolling(tfield, live_server, browser, phones):
    with_password(tfield.interrupter)
    phone = Phone(browser, live_server, "interrupter", phones).open()
    page = phone.page
    page.get_by_label("Language").select_option("es")
    page.get_by_label("Usuario").fill(tfield.interrupter.username)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.get_by_text("Todo sincronizado").wait_for()
    page.get_by_role("link", name="Nuevo incidente").click()
    page.get_by_role("button", name="Tiroteo").wait_for()  # a label from the server's Spanish forms
    page.get_by_text("Número de incidente DVP").wait_for()
    phone.shot("12-spanish-incident")
    for screen in ("#/", "#/sync", "#/incident/new", "#/case/new"):
        page.goto(phone.url + screen)
        page.wait_for_selector("body[data-ready=true]")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], screen
    phone.close()
