"""The fix-and-resend form edits list values with inputs built from the form description, as the field app does:
repeatable rows for lists of items (people contacted, referrals, the unit's timeline), checkboxes for lists of
people. Nobody types JSON (Django's test client; tests/review/test_people_browser.py drives Chromium)."""

import uuid

import pytest
from django.utils.dateparse import parse_datetime

from incidents.models import Engagement, Shift
from sync.models import Mutation
from tests.review.test_people_pages import signed_in
from tests.support import mutation, push

PERSONS = [{"initials": "JD", "age_band": "25_34"}, {"alias": "Blue"}]
REFERRALS = [{"to": "Roots clinic", "kind": "warm_handoff"}]


@pytest.fixture
def rejected_with_lists(field):
    """A 911 dispatch without its CAD number, carrying people contacted and a referral, rejected."""
    rid = uuid.uuid4()
    fields = {"origin": "911_dispatch", "persons": PERSONS, "referrals": REFERRALS, "services": ["first_aid"]}
    bad = mutation(1, record_id=rid, fields=fields)
    assert push(field.api(field.responder), bad).json()["results"][0]["status"] == "rejected"
    return bad["mutation_id"], rid


def _post(**extra):
    body = {
        "f_origin": "911_dispatch",
        "f_cad_number": "OPD-26-7",
        "f_services": ["first_aid"],
        "f_persons__rows": "3",
        "f_persons__0__initials": "JK",
        "f_persons__0__age_band": "25_34",
        "f_persons__1__alias": "Blue",
        "f_persons__1__remove": "1",
        "f_persons__2__alias": "Red",
        "f_referrals__rows": "2",
        "f_referrals__0__to": "Roots clinic",
        "f_referrals__0__kind": "warm_handoff",
    }
    body.update(extra)
    return body


def test_list_fields_are_rows_of_inputs_not_json(field, rejected_with_lists):
    mid, _ = rejected_with_lists
    form = signed_in(field.supervisor).get(f"/supervisor/quarantine/{mid}/").content.decode()
    assert 'name="f_persons"' not in form and "<textarea" not in form and "[{" not in form
    # One row per person sent, each member its own labelled input, plus an empty row.
    assert 'name="f_persons__0__initials" type="text" value="JD"' in form
    assert '<option value="25_34" selected>25–34</option>' in form  # the age band as a choice, in labels
    assert 'name="f_persons__1__alias" type="text" value="Blue"' in form
    assert 'name="f_persons__2__alias" type="text" value=""' in form and 'name="f_persons__3__' not in form
    assert 'name="f_persons__rows" value="3"' in form and 'name="f_persons__0__remove"' in form
    assert 'name="f_persons__0__name"' not in form  # real names stay off, as in the field app
    assert '<option value="warm_handoff" selected>Warm hand-off</option>' in form
    assert "Referred to" in form and 'name="add_row" value="persons"' in form


def test_resending_edited_rows(field, rejected_with_lists):
    mid, rid = rejected_with_lists
    done = signed_in(field.supervisor).post(f"/supervisor/quarantine/{mid}/", _post(), follow=True)
    assert b"Resent on behalf of" in done.content
    record = Engagement.objects.get(pk=rid)
    assert record.persons == [{"initials": "JK", "age_band": "25_34"}, {"alias": "Red"}]
    assert record.referrals == REFERRALS and record.cad_number == "OPD-26-7"


def test_add_a_row_draws_the_form_again_and_resends_nothing(field, rejected_with_lists):
    mid, _ = rejected_with_lists
    page = signed_in(field.supervisor).post(f"/supervisor/quarantine/{mid}/", _post(add_row="referrals"))
    body = page.content.decode()
    assert page.status_code == 200 and Mutation.objects.get(pk=mid).status == "rejected"
    assert not Mutation.objects.filter(replayed_by=field.supervisor).exists()
    # What was typed stays (the removed row gone); the referrals get a second empty row, the persons keep one.
    assert 'name="f_persons__0__initials" type="text" value="JK"' in body
    assert 'name="f_persons__1__alias" type="text" value="Red"' in body and "Blue" not in body
    assert 'name="f_referrals__2__to"' in body and 'name="f_persons__3__alias"' not in body


def test_a_shift_timeline_row_and_its_crew_as_checkboxes(field):
    """Times in rows are local date-time inputs; the crew is ticked from the team's people, by name."""
    field.partner.first_name, field.partner.last_name = "Rosa", "Parks"
    field.partner.save()
    sid = uuid.uuid4()
    fields = {
        "call_sign": "MACRO 31",
        "started_at": "2026-11-24T07:00:00-08:00",
        "ended_at": "2026-11-24T06:00:00-08:00",  # before the start: refused
        "crew": [field.responder.pk, field.partner.pk],
        "status_timeline": [{"status": "en_route", "at": "2026-11-24T07:10:00-08:00"}],
    }
    bad = mutation(1, type_="shift", record_id=sid, fields=fields)
    assert push(field.api(field.responder), bad).json()["results"][0]["status"] == "rejected"
    client = signed_in(field.supervisor)
    form = client.get(f"/supervisor/quarantine/{bad['mutation_id']}/").content.decode()
    assert f'name="f_crew" value="{field.partner.pk}" checked> Rosa Parks ({field.partner.username})' in form
    assert f'name="f_crew" value="{field.supervisor.pk}">' in form  # the team's other people, unticked
    assert 'name="f_status_timeline__0__at" type="datetime-local" step="1" value="2026-11-24T07:10:00"' in form
    assert '<option value="en_route" selected>En route</option>' in form
    body = {
        "f_call_sign": "MACRO 31",
        "f_started_at": "2026-11-24T07:00:00",
        "f_ended_at": "2026-11-24T15:00:00",
        "f_crew": [str(field.responder.pk)],
        "f_status_timeline__rows": "2",
        "f_status_timeline__0__status": "en_route",
        "f_status_timeline__0__at": "2026-11-24T07:10:00",
        "f_status_timeline__1__status": "on_scene",
        "f_status_timeline__1__at": "not a time",
    }
    refused = client.post(f"/supervisor/quarantine/{bad['mutation_id']}/", body)
    text = refused.content.decode()
    assert refused.status_code == 400 and "This value cannot be read; check its format." in text
    assert 'name="f_status_timeline__1__at" type="datetime-local" step="1" value="not a time"' in text
    body["f_status_timeline__1__at"] = "2026-11-24T07:40:00"
    client.post(f"/supervisor/quarantine/{bad['mutation_id']}/", body)
    shift = Shift.objects.get(pk=sid)
    assert shift.crew == [field.responder.pk]
    assert [(s["status"], parse_datetime(s["at"])) for s in shift.status_timeline] == [
        ("en_route", parse_datetime("2026-11-24T07:10:00-08:00")),
        ("on_scene", parse_datetime("2026-11-24T07:40:00-08:00")),
    ]


def test_the_fix_form_in_spanish_with_the_servers_messages(field, rejected_with_lists):
    mid, _ = rejected_with_lists
    form = signed_in(field.supervisor).get(f"/supervisor/quarantine/{mid}/", {"lang": "es"}).content.decode()
    assert "Algunos campos no son válidos." in form  # the server's stored message, in the page's language
    assert "Un despacho del 911 necesita su número CAD." in form  # the rule's message, beside its field
    assert "Personas contactadas, fila 1" in form and "Agregar una fila: Personas contactadas" in form
    assert "Quitar esta fila" in form and "Some fields are not valid." not in form
