"""A program admin and a supervisor in headless Chromium: the admin runs their program in /admin/ (people, teams,
pending devices) without the superuser; the supervisor sets up the authenticator app and signs in with it."""

import base64
import os
import time
from pathlib import Path

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from responders.models import Device, Membership, Role, User

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "test-artifacts" / "admin")
PASSWORD = "browser-admin-pw-2026"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_sideways_scroll(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def sign_in_admin(page, url, user, otp=None):
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    if otp:
        page.get_by_label("Code from your authenticator app").fill(otp)
    page.get_by_role("button", name="Log in").click()


def test_a_program_admin_approves_a_phone_and_moves_a_person_within_their_program(tfield, live_server, browser):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    admin = tfield.user("macro_admin", tfield.macro, None, Role.PROGRAM_ADMIN)
    admin.is_staff = True
    admin.set_password(PASSWORD)
    admin.save()
    pending = tfield.device(tfield.responder, approved=False)
    Device.objects.filter(pk=pending.pk).update(
        name="Dana's new phone", app_version="1.4.0", last_seen_at=timezone.now()
    )
    dvp_pending = tfield.device(tfield.interrupter, approved=False)
    Device.objects.filter(pk=dvp_pending.pk).update(name="Interrupter phone")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_admin(page, live_server.url, admin)
    page.wait_for_url(f"{live_server.url}/admin/")
    assert "permission to view or edit anything" not in page.content()
    shot(page, "program-admin-index")

    page.get_by_role("link", name="Devices", exact=True).click()
    page.get_by_role("link", name="Waiting for approval").click()
    row = page.locator("tr", has_text="Dana's new phone")
    assert "1.4.0" in row.inner_text()
    assert page.locator("tr", has_text="Interrupter phone").count() == 0  # a DVP phone is not MACRO's admin's
    shot(page, "program-admin-pending-devices")
    row.locator("input[type=checkbox]").check()
    page.locator("select[name=action]").select_option("approve")
    page.get_by_role("button", name="Go").click()
    page.get_by_text("Approved 1 device.").wait_for()
    pending.refresh_from_db()
    assert pending.approved_by_id == admin.pk

    # Move the responder from van-1 to van-2 on their person page; the DVP teams are not offered at all.
    page.goto(f"{live_server.url}/admin/responders/user/{tfield.responder.pk}/change/")
    team = page.locator("select[name='memberships-0-team']")
    offered = team.locator("option").all_inner_texts()
    assert "MACRO/van-2" in offered and not any("zone" in o for o in offered)
    team.select_option(label="MACRO/van-2")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("was changed successfully").wait_for()
    assert Membership.objects.get(user=tfield.responder).team_id == tfield.team_b.pk
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MEMBERSHIP_MOVED, actor=admin).count() == 1

    # A DVP person's page, by URL: not there for a MACRO admin.
    page.goto(f"{live_server.url}/admin/responders/user/{tfield.interrupter.pk}/change/")
    assert page.get_by_text("doesn’t exist").count() or page.get_by_text("doesn't exist").count()

    phone = browser.new_page(viewport={"width": 375, "height": 800})
    sign_in_admin(phone, live_server.url, admin)
    phone.wait_for_url(f"{live_server.url}/admin/")
    phone.goto(f"{live_server.url}/admin/responders/device/")
    shot(phone, "program-admin-devices-375px")
    phone.goto(f"{live_server.url}/admin/responders/user/{tfield.responder.pk}/change/")
    shot(phone, "program-admin-person-375px")


def totp_code(secret, at):
    """The code an authenticator app shows at `at` for this secret (RFC 6238, as the app computes it)."""
    from django_otp.oath import TOTP

    totp = TOTP(base64.b32decode(secret + "=" * (-len(secret) % 8)), step=30, t0=0, digits=6)
    totp.time = at
    return str(totp.token()).zfill(6)


def test_a_supervisor_sets_up_the_authenticator_app_and_signs_in_with_it(tfield, live_server, browser):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    supervisor = tfield.supervisor
    supervisor.set_password(PASSWORD)
    supervisor.save()
    url = live_server.url

    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(f"{url}/supervisor/login/")
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/supervisor/")
    page.get_by_role("link", name="Authenticator app").click()
    page.get_by_role("img", name="QR code of your sign-in secret").wait_for()
    assert no_sideways_scroll(page)
    shot(page, "two-factor-setup-375px")
    secret = page.locator("#secret").inner_text().strip()

    confirmed_at = time.time()
    page.get_by_label("Code from the app").fill(totp_code(secret, confirmed_at))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Recovery codes").wait_for()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    shot(page, "two-factor-recovery-codes-375px")
    assert no_sideways_scroll(page)

    page.get_by_role("button", name=f"Sign out {supervisor.username}").click()
    page.wait_for_url(f"{url}/supervisor/login/")
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Enter the code from your authenticator app.").wait_for()

    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    # The next step's code: the confirmation used this one, and a code works once.
    page.get_by_label("Code from your authenticator app").fill(totp_code(secret, confirmed_at + 30))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/supervisor/")
    page.get_by_role("link", name="Authenticator app").click()
    page.get_by_text("You have 10 unused recovery codes.").wait_for()
    shot(page, "two-factor-done-375px")

    actions = set(AuditEvent.objects.filter(actor=supervisor).values_list("action", flat=True))
    assert {
        AuditEvent.Action.OTP_ENROLLED,
        AuditEvent.Action.RECOVERY_CODES_ISSUED,
        AuditEvent.Action.OTP_VERIFIED,
    } <= actions

    # A recovery code signs in once, and a program admin's reset lets the person in with the password alone.
    context = browser.new_context(viewport={"width": 375, "height": 800})
    other = context.new_page()
    other.goto(f"{url}/supervisor/login/")
    other.get_by_label("Username").fill(supervisor.username)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_label("Code from your authenticator app").fill(codes[0])
    other.get_by_role("button", name="Sign in").click()
    other.wait_for_url(f"{url}/supervisor/")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RECOVERY_CODE_USED, actor=supervisor).exists()

    from responders.services import second_factor_reset

    second_factor_reset(user=User.objects.get(pk=supervisor.pk), actor=None)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OTP_RESET).exists()
    fresh = browser.new_context().new_page()
    fresh.goto(f"{url}/supervisor/login/")
    fresh.get_by_label("Username").fill(supervisor.username)
    fresh.get_by_label("Password").fill(PASSWORD)
    fresh.get_by_role("button", name="Sign in").click()
    fresh.wait_for_url(f"{url}/supervisor/")


def test_the_field_app_says_a_new_phone_waits_and_signs_in_once_a_program_admin_approves_it(
    tfield, live_server, browser
):
    """The policy's pending path as a crew member meets it: the field app on a phone never used before."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from responders.services import device_approve

    responder = tfield.responder
    responder.set_password(PASSWORD)
    responder.save()  # no allowance: the new phone waits
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server.url}/app/")
    page.wait_for_selector("body[data-ready=true]")

    def sign_in():
        page.get_by_label("Username").fill(responder.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    sign_in()
    page.get_by_text("waits for a program admin's approval").wait_for()
    shot(page, "field-app-new-phone-waits-375px")
    device = Device.objects.get(user=responder, approved_at__isnull=True)
    assert device.platform == "web"

    admin = tfield.user("macro_admin", tfield.macro, None, Role.PROGRAM_ADMIN)
    device_approve(device=device, actor=admin)
    sign_in()
    page.get_by_text("All edits synced").wait_for()
    assert Device.objects.filter(user=responder).count() == 1  # the same device id, now approved
    context.close()
