"""Setting up the authenticator app: who may, a wrong code, new recovery codes, and a program admin's reset."""

import base64

from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from responders.models import Role, User


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def code_for(device):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(6)


def test_crews_are_pointed_to_the_field_app(field):
    response = signed_in(field.responder).get("/account/two-factor/")
    assert response.status_code == 403 and "/app/" in response.content.decode()


def test_a_wrong_code_leaves_the_app_unconfirmed_and_a_right_one_confirms_it(field):
    client = signed_in(field.supervisor)
    page = client.get("/account/two-factor/")
    assert page.status_code == 200 and "data:image/svg+xml" in page.content.decode()
    assert page["Cache-Control"] == "no-store"  # the page shows the secret
    device = TOTPDevice.objects.get(user=field.supervisor)
    assert not device.confirmed
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert secret in page.content.decode()
    wrong = "000000" if code_for(device) != "000000" else "111111"
    refused = client.post("/account/two-factor/", {"code": wrong})
    assert refused.status_code == 400 and "not right" in refused.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    done = client.post("/account/two-factor/", {"code": code_for(device)})
    assert done.status_code == 200 and "Recovery codes" in done.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert StaticToken.objects.filter(device__user=field.supervisor).count() == 10
    # The session that confirmed stays open, and can make new recovery codes (the old ones stop working).
    old = set(StaticToken.objects.values_list("token", flat=True))
    again = client.post("/account/two-factor/recovery-codes")
    assert again.status_code == 200
    assert not old & set(StaticToken.objects.values_list("token", flat=True))
    assert (
        AuditEvent.objects.filter(action=AuditEvent.Action.RECOVERY_CODES_ISSUED, actor=field.supervisor).count() == 2
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.OTP_ENROLLED, actor=field.supervisor).count() == 1


def test_a_program_admin_resets_the_app_of_someone_in_their_program_only(field):
    admin = field.user("macro_admin", field.macro, None, Role.PROGRAM_ADMIN)
    User.objects.filter(pk=admin.pk).update(is_staff=True)
    client = signed_in(User.objects.get(pk=admin.pk))
    TOTPDevice.objects.create(user=field.supervisor, name="app", confirmed=True)
    TOTPDevice.objects.create(user=field.dvp_supervisor, name="app", confirmed=True)
    for user in (field.supervisor, field.dvp_supervisor):
        client.post(
            "/admin/responders/user/",
            {"action": "reset_second_factor", "_selected_action": [str(user.pk)], "index": "0"},
        )
    assert not TOTPDevice.objects.filter(user=field.supervisor).exists()
    assert TOTPDevice.objects.filter(user=field.dvp_supervisor).exists()  # DVP's, not MACRO admin's
    reset = AuditEvent.objects.get(action=AuditEvent.Action.OTP_RESET)
    assert reset.actor_id == admin.pk and reset.object_id == str(field.supervisor.pk)
