"""What supervisors and coordinators read and do on the pages: the crew's records with labels and history, DVP
shift logs, the review history and notice of a return, fix-and-resend on the author's behalf, coordinator
worklists, and the wall (Django's test client; tests/review/test_people_browser.py drives Chromium)."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import FollowUpCase, Shift
from notifications.models import Notification
from records.models import Amendment, RecordVersion
from responders.models import Role
from sync.models import Mutation
from tests.support import ON_VIEW, mutation, push

PASSWORD = "people-pages-pw-1"


def signed_in(user):
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def macro_shift(field, api=None, ended=True, **extra):
    api = api or field.api(field.responder)
    sid = uuid.uuid4()
    fields = {
        "call_sign": "MACRO 31",
        "started_at": "2026-11-24T07:00:00-08:00",
        "crew": [field.responder.pk, field.partner.pk],
        "status_timeline": [{"status": "en_route", "at": "2026-11-24T07:10:00-08:00"}],
        **extra,
    }
    if ended:
        fields["ended_at"] = "2026-11-24T15:00:00-08:00"
    push(api, mutation(1, type_="shift", record_id=sid, fields=fields))
    return sid, api


def test_shift_log_shows_what_the_crew_wrote_in_labels(field):
    field.partner.first_name, field.partner.last_name = "Rosa", "Parks"
    field.partner.save()
    sid, api = macro_shift(field)
    eid = uuid.uuid4()
    push(
        api,
        mutation(
            2,
            record_id=eid,
            fields={
                "origin": "on_view",
                "shift": str(sid),
                "address": "Foothill Blvd & Seminary Ave",
                "needs": ["basic_needs"],
                "persons": [{"initials": "JD", "age_band": "25_34"}],
                "services": ["first_aid"],
                "supplies": {"water": 3},
                "disposition": "declined_services",
                "notes": "Asked for a blanket next time.",
            },
        ),
    )
    page = signed_in(field.supervisor).get(f"/supervisor/shifts/{sid}/").content.decode()
    assert "Rosa Parks" in page and field.responder.username in page  # the crew by name
    for text in (
        "Foothill Blvd &amp; Seminary Ave",
        "Basic needs (food, water, clothing)",
        "JD · 25–34",
        "First aid",
        "Water: 3",
        "Declined services",
        "Asked for a blanket next time.",
        "En route",
    ):
        assert text in page, text
    for code in (">en_route<", "basic_needs", "declined_services", "first_aid", "25_34"):
        assert code not in page, code
    assert f"/supervisor/records/engagement/{eid}/" in page


def test_record_page_has_its_history_with_who_changed_what(field):
    sid, api = macro_shift(field)
    eid = uuid.uuid4()
    push(api, mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid)}))
    push(
        field.api(field.partner),
        mutation(1, "update", record_id=eid, base_version=1, fields={"disposition": "referred"}),
    )
    page = signed_in(field.supervisor).get(f"/supervisor/records/engagement/{eid}/").content.decode()
    assert "Version 2" in page and "Version 1" in page
    assert field.partner.username in page and "Referred" in page and "Housing / unsheltered" in page


def test_submission_waits_for_an_end_time(field):
    sid, api = macro_shift(field, ended=False)
    answer = api.post(f"/api/v1/shifts/{sid}/submit")
    assert answer.status_code == 409 and answer.json()["code"] == "shift_not_ended"
    assert "end time" in answer.json()["message"] and "ended_at" in answer.json()["fields"]
    assert Shift.objects.get(pk=sid).review_status == "open"
    push(
        api,
        mutation(
            2, "update", type_="shift", record_id=sid, base_version=1, fields={"ended_at": "2026-11-24T15:00:00-08:00"}
        ),
    )
    assert api.post(f"/api/v1/shifts/{sid}/submit").status_code == 200


def test_return_notifies_the_crew_and_its_comment_stays_after_approval(field):
    field.responder.email = "crew@example.org"
    field.responder.save()
    sid, api = macro_shift(field)
    api.post(f"/api/v1/shifts/{sid}/submit")
    supervisor = signed_in(field.supervisor)
    supervisor.post(f"/supervisor/shifts/{sid}/return", {"comment": "The 11:30 contact needs its CAD number."})
    notified = Notification.objects.filter(kind="shift_returned", object_id=str(sid))
    assert set(notified.values_list("recipient", flat=True)) == {field.responder.pk, field.partner.pk}
    assert "CAD" not in notified.first().body  # the comment stays in the app; the notice says where to read it
    api.post(f"/api/v1/shifts/{sid}/submit")
    confirm = supervisor.get(f"/supervisor/shifts/{sid}/approve/confirm")
    assert b"Yes, approve and lock" in confirm.content
    supervisor.post(f"/supervisor/shifts/{sid}/approve", {"confirm": "yes"})
    page = supervisor.get(f"/supervisor/shifts/{sid}/").content.decode()
    assert Shift.objects.get(pk=sid).review_status == "approved"
    assert "The 11:30 contact needs its CAD number." in page
    assert page.index("Returned to the crew") < page.index("Approved and locked")


def dvp_night_shift(field):
    """An interrupter's night shift with a coordinator on the crew, 20:00 to 04:00."""
    api = field.api(field.interrupter)
    sid = uuid.uuid4()
    incident, case = uuid.uuid4(), uuid.uuid4()
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
            fields={"dvp_number": "DVP-9", "kind": "shooting", "occurred_at": "2026-11-24T19:30:00-08:00"},
        ),
        *[
            mutation(
                3 + i,
                type_="scene_response",
                fields={
                    "incident": str(incident),
                    "shift": str(sid),
                    "arrived_at": at,
                    "people_reached": {"family": 2},
                },
            )
            for i, at in enumerate(["2026-11-24T20:30:00-08:00", "2026-11-24T23:00:00-08:00"])
        ],
        mutation(5, type_="follow_up_case", record_id=case, fields={"persons": [{"alias": "Cousin"}]}),
    )
    return sid, api, case


def test_dvp_shift_log_in_dvp_terms_with_every_contact_attempt_on_the_shift(field):
    sid, api, case = dvp_night_shift(field)
    attempt = {"case": str(case), "made": False, "mode": "phone", "outcome": "no_answer"}
    push(api, mutation(6, type_="contact_attempt", fields={**attempt, "attempted_at": "2026-11-24T21:00:00-08:00"}))
    # The regression: the partner's attempt, after midnight, is on the shift too (contact attempts carry no
    # shift; the log showed only records that name it, so attempts never appeared).
    push(
        field.api(field.coordinator),
        mutation(1, type_="contact_attempt", fields={**attempt, "attempted_at": "2026-11-25T01:15:00-08:00"}),
    )
    # Outside the shift: after its end, and by someone not on the crew.
    push(api, mutation(7, type_="contact_attempt", fields={**attempt, "attempted_at": "2026-11-25T05:00:00-08:00"}))
    outsider = field.user("interrupter_c", field.dvp, field.team_d, Role.FIELD_RESPONDER)
    push(
        field.api(outsider),
        mutation(1, type_="contact_attempt", fields={**attempt, "attempted_at": "2026-11-24T22:00:00-08:00"}),
    )
    page = signed_in(field.dvp_supervisor).get(f"/supervisor/shifts/{sid}/").content.decode()
    assert "2 contact attempts" in page
    assert "Tue 24 Nov 2026, 21:00" in page and "Wed 25 Nov 2026, 01:15" in page
    assert "05:00" not in page and "22:00" not in page
    # DVP terms: no MACRO sections, the two scene responses under their one incident.
    assert "Calls offered by dispatch" not in page and "engagement" not in page.lower()
    assert "2 scene responses" in page and page.count("DVP-9") == 1
    assert "Family: 2" in page


def test_pluralisation(field):
    sid, api = macro_shift(field)
    push(api, mutation(2, fields={**ON_VIEW, "shift": str(sid)}))
    page = signed_in(field.supervisor).get(f"/supervisor/shifts/{sid}/").content.decode()
    assert "1 engagement<" in page and "1 engagements" not in page
    home = signed_in(field.supervisor).get("/supervisor/").content.decode()
    assert "1 shifts" not in home


@pytest.fixture
def rejected(field):
    """The crew's 911 dispatch without its CAD number, rejected into quarantine."""
    api = field.api(field.responder)
    rid = uuid.uuid4()
    bad = mutation(1, record_id=rid, fields={"origin": "911_dispatch", "address": "Broadway & 14th"})
    assert push(api, bad).json()["results"][0]["status"] == "rejected"
    return Mutation.objects.get(pk=bad["mutation_id"]), rid


def test_fix_and_resend_on_the_authors_behalf(field, rejected):
    original, rid = rejected
    supervisor = signed_in(field.supervisor)
    form = supervisor.get(f"/supervisor/quarantine/{original.pk}/").content.decode()
    assert "A 911 dispatch needs its CAD number." in form
    assert 'name="f_cad_number"' in form and 'name="f_origin"' in form and "On-view (self-initiated)" in form
    done = supervisor.post(
        f"/supervisor/quarantine/{original.pk}/",
        {"f_origin": "911_dispatch", "f_address": "Broadway & 14th", "f_cad_number": "OPD-26-1"},
        follow=True,
    )
    assert b"Resent on behalf of" in done.content
    replay = Mutation.objects.get(pk=Mutation.objects.get(pk=original.pk).replayed_as_id)
    assert (replay.status, replay.user, replay.replayed_by) == ("applied", field.responder, field.supervisor)
    from incidents.models import Engagement

    record = Engagement.objects.get(pk=rid)
    assert (record.created_by, record.cad_number) == (field.responder, "OPD-26-1")
    assert RecordVersion.objects.get(record_id=rid, version=1).author == field.responder
    event = AuditEvent.objects.get(action="sync.mutation_replayed", object_id=str(original.pk))
    assert event.actor == field.supervisor and event.detail["on_behalf_of"] == field.responder.pk
    history = supervisor.get(f"/supervisor/records/engagement/{rid}/").content.decode()
    assert f"corrected and resent by {field.supervisor.username}" in history


def test_a_replay_refused_again_still_shows_its_author(field, rejected):
    """The regression: after a replay the "Who" column showed the supervisor instead of the crew member."""
    original, _ = rejected
    supervisor = signed_in(field.supervisor)
    again = supervisor.post(
        f"/supervisor/quarantine/{original.pk}/", {"f_origin": "911_dispatch", "f_cad_number": ""}, follow=True
    )
    assert b"still refuses" in again.content
    replay = Mutation.objects.get(replayed_by=field.supervisor)
    assert replay.user == field.responder
    listing = supervisor.get("/supervisor/quarantine/").content.decode()
    who = listing.split('data-label="Who">')[1].split("</td>")[0]
    assert field.responder.username in who and f"resent by {field.supervisor.username}" in who


def test_unreadable_value_in_the_fix_form_is_a_400_with_the_form(field):
    bad = mutation(1, fields={"origin": "911_dispatch", "on_scene_at": "2026-11-24T10:00:00-08:00"})
    push(field.api(field.responder), bad)
    page = signed_in(field.supervisor).post(
        f"/supervisor/quarantine/{bad['mutation_id']}/",
        {"f_origin": "911_dispatch", "f_cad_number": "OPD-1", "f_on_scene_at": "not a time"},
    )
    assert page.status_code == 400 and b"cannot be read" in page.content
    assert Mutation.objects.get(pk=bad["mutation_id"]).replayed_as_id is None


def test_amendment_reads_before_and_after(field):
    sid, api = macro_shift(field)
    eid = uuid.uuid4()
    push(api, mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid), "disposition": "referred"}))
    api.post(f"/api/v1/shifts/{sid}/submit")
    field.api(field.supervisor).post(f"/api/v1/shifts/{sid}/approve")
    push(api, mutation(3, "update", record_id=eid, base_version=1, fields={"disposition": "transported"}))
    assert Amendment.objects.filter(record_id=eid).exists()
    page = signed_in(field.supervisor).get("/supervisor/amendments/").content.decode()
    assert "Referred" in page and "→ Transported" in page and "{" not in page.split("<main")[1]
    assert f"/supervisor/records/engagement/{eid}/" in page


# --- coordinators ---------------------------------------------------------------------------------------


def dvp_cases(field):
    from datetime import timedelta

    from django.utils import timezone

    api = field.api(field.coordinator)
    today = timezone.localdate()
    ids = [uuid.uuid4() for _ in range(3)]
    push(
        api,
        *[
            mutation(
                i + 1,
                type_="follow_up_case",
                record_id=ids[i],
                fields={
                    "persons": [{"alias": alias}],
                    "assigned_to": field.interrupter.pk,
                    "next_contact_due": (today + timedelta(days=days)).isoformat(),
                },
            )
            for i, (alias, days) in enumerate([("Overdue one", -2), ("Due one", 3), ("Later one", 30)])
        ],
    )
    return ids, api


def test_coordinator_worklists_reassign_and_close(field):
    (overdue, due, later), api = dvp_cases(field)
    push(
        api,
        mutation(
            4,
            type_="contact_attempt",
            fields={"case": str(overdue), "attempted_at": "2026-11-24T10:00:00-08:00", "mode": "phone", "made": False},
        ),
    )
    coordinator = signed_in(field.coordinator)
    home = coordinator.get("/supervisor/")
    assert home.status_code == 302 and home["Location"].endswith("/supervisor/follow-ups/")
    due_list = coordinator.get("/supervisor/follow-ups/?view=due").content.decode()
    assert "Due one" in due_list and "Overdue one" not in due_list and "Later one" not in due_list
    assert "1 case<" in due_list
    overdue_list = coordinator.get("/supervisor/follow-ups/?view=overdue").content.decode()
    assert "Overdue one" in overdue_list and "Due one" not in overdue_list
    case_page = coordinator.get(f"/supervisor/follow-ups/{overdue}/").content.decode()
    assert "1 contact attempt, 0 made" in case_page and "Phone" in case_page
    second = field.user("interrupter_2", field.dvp, field.team_d, Role.FIELD_RESPONDER)
    coordinator.post(f"/supervisor/follow-ups/{overdue}/reassign", {"assigned_to": second.pk})
    assert FollowUpCase.objects.get(pk=overdue).assigned_to == second
    # Someone of another team cannot be given the case.
    coordinator.post(f"/supervisor/follow-ups/{overdue}/reassign", {"assigned_to": field.interrupter_b.pk})
    assert FollowUpCase.objects.get(pk=overdue).assigned_to == second
    refused = coordinator.post(f"/supervisor/follow-ups/{overdue}/close", {"reason": ""}, follow=True)
    assert b"Say why" in refused.content and FollowUpCase.objects.get(pk=overdue).status == "open"
    coordinator.post(f"/supervisor/follow-ups/{overdue}/close", {"reason": "Moved out of state."})
    case = FollowUpCase.objects.get(pk=overdue)
    assert case.status == "closed" and "Moved out of state." in case.notes and case.updated_by == field.coordinator
    assert (
        AuditEvent.objects.filter(action="record.update", object_id=str(overdue), actor=field.coordinator).count() == 2
    )


def test_coordinator_sees_incidents_with_scene_responses(field):
    dvp_night_shift(field)
    page = signed_in(field.coordinator).get("/supervisor/incidents/").content.decode()
    assert "DVP-9" in page and "2 scene responses" in page and "Shooting" in page


def test_macro_coordinator_sees_team_activity(field):
    coordinator = field.user("macro_coordinator", field.macro, None, Role.COORDINATOR)
    # The page shows the last 7 days: a shift of yesterday (a fixed date would fall out of the window).
    start = timezone.now().replace(microsecond=0) - timedelta(days=1)
    sid, api = macro_shift(
        field,
        ended=False,
        started_at=start.isoformat(),
        ended_at=(start + timedelta(hours=8)).isoformat(),
        status_timeline=[{"status": "en_route", "at": (start + timedelta(minutes=10)).isoformat()}],
    )
    push(api, mutation(2, fields={**ON_VIEW, "shift": str(sid)}))
    client = signed_in(coordinator)
    assert client.get("/supervisor/")["Location"].endswith("/supervisor/activity/")
    page = client.get("/supervisor/activity/").content.decode()
    assert "MACRO 31" in page and "On-view (self-initiated)" in page and "1 engagement" in page
    shift = client.get(f"/supervisor/shifts/{sid}/").content.decode()
    assert "MACRO 31" in shift and "Approve and lock" not in shift  # a coordinator reads, a supervisor decides


# --- the wall ------------------------------------------------------------------------------------------------


def test_the_wall_on_every_page(field):
    """A DVP supervisor, a MACRO supervisor of another team and a MACRO analyst open others' pages by URL."""
    sid, api = macro_shift(field)
    eid = uuid.uuid4()
    push(api, mutation(2, record_id=eid, fields={**ON_VIEW, "shift": str(sid), "notes": "VAN-ONE-SECRET"}))
    dvp_sid, dvp_api, case = dvp_night_shift(field)
    push(
        dvp_api,
        mutation(9, "update", type_="follow_up_case", record_id=case, base_version=1, fields={"notes": "DVP-SECRET"}),
    )
    bad = mutation(10, fields={"origin": "911_dispatch", "notes": "VAN-ONE-SECRET"})
    push(api, bad)
    quarantined = bad["mutation_id"]
    macro_urls = [
        f"/supervisor/shifts/{sid}/",
        f"/supervisor/shifts/{sid}/approve/confirm",
        f"/supervisor/records/engagement/{eid}/",
        f"/supervisor/quarantine/{quarantined}/",
    ]
    dvp_urls = [
        f"/supervisor/shifts/{dvp_sid}/",
        f"/supervisor/follow-ups/{case}/",
        f"/supervisor/records/follow_up_case/{case}/",
        "/supervisor/follow-ups/?view=all",
        "/supervisor/incidents/",
    ]
    other_macro = field.user("supervisor_b", field.macro, field.team_b, Role.SUPERVISOR)
    approve, close = f"/supervisor/shifts/{sid}/approve", f"/supervisor/follow-ups/{case}/close"
    macro_texts, dvp_texts = ["VAN-ONE-SECRET", "MACRO 31"], ["DVP-SECRET", "DVP East 2", "Cousin", "DVP-9"]
    for user, urls, forbidden, posts in (
        (field.dvp_supervisor, macro_urls, macro_texts, [approve]),
        (other_macro, macro_urls + dvp_urls, macro_texts + dvp_texts, [approve, close]),
        (field.macro_analyst, macro_urls + dvp_urls, macro_texts + dvp_texts, [approve, close]),
        (field.supervisor, dvp_urls, dvp_texts, [close]),
    ):
        client = signed_in(user)
        lists = ["/supervisor/", "/supervisor/quarantine/", "/supervisor/conflicts/", "/supervisor/amendments/"]
        lists += ["/supervisor/activity/", "/supervisor/follow-ups/?view=all", "/supervisor/incidents/"]
        for url in urls + lists:
            page = client.get(url, follow=url in lists)
            if url in urls:
                assert page.status_code in (403, 404), (user.username, url, page.status_code)
            body = page.content.decode()
            for text in forbidden:
                assert text not in body, (user.username, url, text)
        for url in posts:
            assert client.post(url, {"confirm": "yes", "reason": "x"}).status_code in (403, 404)
    assert FollowUpCase.objects.get(pk=case).status == "open"


def test_pages_in_spanish(field):
    sid, api = macro_shift(field)
    push(api, mutation(2, fields={**ON_VIEW, "shift": str(sid), "needs": ["basic_needs"]}))
    client = signed_in(field.supervisor)
    page = client.get(f"/supervisor/shifts/{sid}/", {"lang": "es"})
    body = page.content.decode()
    assert "Registro de turno MACRO 31" in body and "1 atención<" in body and "En camino" in body
    assert 'lang="es"' in body
    # Remembered for the next page.
    assert "Hoy" in client.get("/supervisor/").content.decode()
    assert "Today" in client.get("/supervisor/", {"lang": "en"}).content.decode()


def test_an_api_replay_refused_again_still_names_its_author(field):
    """The same regression through the API: a supervisor's replay is the author's mutation, not the supervisor's."""
    api = field.api(field.responder)
    bad = mutation(1, record_id=uuid.uuid4(), fields={"origin": "911_dispatch"})
    push(api, bad)
    field.api(field.supervisor).post(
        f"/api/v1/sync/quarantine/{bad['mutation_id']}/replay", {"fields": {"origin": "911_dispatch"}}, format="json"
    )
    replay = Mutation.objects.exclude(pk=bad["mutation_id"]).get(record_id=bad["id"])
    assert (replay.status, replay.user, replay.replayed_by) == ("rejected", field.responder, field.supervisor)


def test_review_states_history_and_header_in_spanish(field):
    """The review state, each step of the review history and the shared header follow the page's language."""
    sid, api = macro_shift(field)
    api.post(f"/api/v1/shifts/{sid}/submit")
    client = signed_in(field.supervisor)
    client.post(f"/supervisor/shifts/{sid}/return", {"comment": "Falta el número CAD."})
    api.post(f"/api/v1/shifts/{sid}/submit")
    body = client.get(f"/supervisor/shifts/{sid}/", {"lang": "es"}).content.decode()
    assert "Enviado para revisión</span>" in body  # the state
    for step in ("<strong>Enviado</strong>", "<strong>Devuelto al equipo</strong>"):  # the history
        assert step in body
    assert "Submitted" not in body and "Returned to the crew" not in body
    # The header: sections, the authenticator link, signing out, the title.
    for text in (
        "Hoy</a>",
        "Cuarentena</a>",
        "Aplicación de autenticación</a>",
        "Cerrar sesión de",
        "· Registros de campo</title>",
    ):
        assert text in body, text
    assert "Authenticator app" not in body
    home = client.get("/supervisor/").content.decode()
    assert "Enviado para revisión" in home  # the latest shift logs, in the remembered language
    # The sign-in page and the not-for-your-role page speak the browser's language.
    login = Client().get("/supervisor/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<h1>Iniciar sesión</h1>" in login and "Contraseña" in login and "Sign in" not in login
    crew = signed_in(field.responder).get("/supervisor/", HTTP_ACCEPT_LANGUAGE="es")
    assert crew.status_code == 403 and "Abrir la aplicación de campo" in crew.content.decode()
    assert "Registros de campo de Oakland" in crew.content.decode()
def test_an_impossible_time_sent_by_a_phone_shows_as_sent_on_the_quarantine_pages(field):
    """A rejected change carrying a time that is no real one (30 February) is listed and offered for fixing as
    the phone sent it; reading it for display must not fail the page (it was a 500)."""
    api = field.api(field.responder)
    bad = mutation(1, fields={**ON_VIEW, "received_at": "2026-02-30T10:00:00-08:00"})
    assert push(api, bad).json()["results"][0]["status"] == "rejected"
    supervisor = signed_in(field.supervisor)
    listing = supervisor.get("/supervisor/quarantine/")
    assert listing.status_code == 200 and "2026-02-30T10:00:00-08:00" in listing.content.decode()
    form = supervisor.get(f"/supervisor/quarantine/{bad['mutation_id']}/")
    assert form.status_code == 200 and 'name="f_received_at"' in form.content.decode()
    resent = supervisor.post(
        f"/supervisor/quarantine/{bad['mutation_id']}/", {"f_origin": "on_view", "f_received_at": "2026-02-30T10:00"}
    )
    assert resent.status_code == 400 and "This value cannot be read; check its format." in resent.content.decode()
