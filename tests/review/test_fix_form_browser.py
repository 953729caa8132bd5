"""The fix-and-resend form's list inputs in headless Chromium, and the Spanish pages (the shift log with its
review states, the authenticator set-up, the program admin's pages) at 375 and 1280 px. Screenshots go to
test-artifacts/ (and SHOTS_DIR if set)."""

import uuid

import pytest

from incidents.models import Engagement
from responders.models import Device, Role, User
from tests.review.test_people_browser import PHONE, fits, shot, sign_in
from tests.support import mutation, push

pytestmark = pytest.mark.browser
WIDE = {"width": 1280, "height": 900}


def test_a_supervisor_fixes_list_values_without_typing_json(tfield, live_server, browser):
    field = tfield
    rid = uuid.uuid4()
    fields = {
        "origin": "911_dispatch",
        "address": "Broadway & 14th",
        "persons": [{"initials": "JD", "age_band": "25_34"}, {"alias": "Blue"}],
        "referrals": [{"to": "Roots clinic", "kind": "warm_handoff"}],
    }
    bad = mutation(1, record_id=rid, fields=fields)
    push(field.api(field.responder), bad)
    url = f"{live_server.url}/supervisor/quarantine/{bad['mutation_id']}/"

    phone = sign_in(browser, live_server, field.supervisor, PHONE)
    phone.goto(url)
    phone.get_by_role("heading", name="Fix and resend: New engagement").wait_for()
    assert phone.locator("textarea").count() == 0  # no JSON box anywhere
    assert fits(phone)
    shot(phone, "fix-form-lists-375")

    page = sign_in(browser, live_server, field.supervisor, WIDE)
    page.goto(url)
    assert page.locator("#f_persons__0__initials").input_value() == "JD"
    assert page.locator("#f_persons__0__age_band").input_value() == "25_34"
    page.locator("#f_persons__0__initials").fill("JK")
    page.get_by_role("group", name="People contacted, row 2").get_by_label("Remove this row").check()
    page.locator("#f_persons__2__alias").fill("Red")
    page.locator("#f_persons__2__age_band").select_option(label="18–24")
    # One more referral: the form comes back with what was typed and a new empty row.
    page.get_by_role("button", name="Add a row: Referrals").click()
    page.locator("#f_referrals__1__to").wait_for()
    assert page.locator("#f_persons__0__initials").input_value() == "JK"
    page.locator("#f_referrals__1__to").fill("Housing hotline")
    page.locator("#f_referrals__1__kind").select_option("information_only")
    page.locator("#f_cad_number").fill("OPD-26-0077")
    shot(page, "fix-form-lists-1280")
    page.get_by_role("button", name="Resend on the author's behalf").click()
    page.get_by_text("Resent on behalf of").wait_for()
    record = Engagement.objects.get(pk=rid)
    assert record.persons == [{"initials": "JK", "age_band": "25_34"}, {"alias": "Red", "age_band": "18_24"}]
    assert record.referrals == [
        {"to": "Roots clinic", "kind": "warm_handoff"},
        {"to": "Housing hotline", "kind": "information_only"},
    ]
    assert (record.created_by, record.cad_number) == (field.responder, "OPD-26-0077")


def test_the_spanish_pages_at_375_and_1280(tfield, live_server, browser):
    field = tfield
    crew = field.api(field.responder)
    sid = uuid.uuid4()
    shift = {
        "call_sign": "MACRO 31",
        "started_at": "2026-11-24T07:00:00-08:00",
        "ended_at": "2026-11-24T15:00:00-08:00",
        "crew": [field.responder.pk, field.partner.pk],
    }
    push(crew, mutation(1, type_="shift", record_id=sid, fields=shift))
    crew.post(f"/api/v1/shifts/{sid}/submit")
    bad = mutation(2, fields={"origin": "911_dispatch", "persons": [{"initials": "JD"}], "shift": str(sid)})
    push(crew, bad)
    admin = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    User.objects.filter(pk=admin.pk).update(is_staff=True)
    admin.refresh_from_db()
    Device.objects.create(id=uuid.uuid4(), user=field.partner, name="Pixel 8", platform="android")
    pages = [
        (field.supervisor, f"/supervisor/shifts/{sid}/", "Enviado para revisión", "es-shift-log"),
        (field.supervisor, f"/supervisor/quarantine/{bad['mutation_id']}/", "Agregar una fila", "es-fix-form"),
        (field.supervisor, "/account/two-factor/", "Configure su aplicación de autenticación", "es-two-factor"),
        (admin, "/admin/responders/user/", "Registros de campo de Oakland · Administración", "es-admin-people"),
        (admin, "/admin/responders/device/", "Esperando aprobación", "es-admin-devices"),
    ]
    for viewport, width in ((PHONE, 375), (WIDE, 1280)):
        for user, path, text, name in pages:
            page = sign_in(browser, live_server, user, viewport)
            page.goto(f"{live_server.url}{path}?lang=es")
            page.get_by_text(text).first.wait_for()
            assert page.locator("html").get_attribute("lang") == "es"
            if path.startswith(("/supervisor/", "/account/")):
                assert "Cerrar sesión" in page.content(), path
                assert fits(page), (path, width)
            shot(page, f"{name}-{width}")
            page.close()
