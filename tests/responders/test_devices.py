"""The new-device policy (docs/security.md, "New devices"): a phone a person has not used before gets no session
until a program admin approves it, or (where the program allows) a code from the person's authenticator app
approves it, or one of the new phones an admin allowed for the person is used."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from responders.models import Device, Program, TokenFamily, User
from responders.services import device_approve, device_revoke, devices_allow
from tests.support import issue_access_token, pull

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(field):
    field.responder.set_password(PASSWORD)
    field.responder.save()  # no allowance: the policy as a program runs it
    return field.responder


def login(user, device_id, **extra):
    return APIClient().post(
        "/api/v1/auth/login",
        {"username": user.username, "password": PASSWORD, "device_id": str(device_id), **extra},
        format="json",
    )


def test_a_new_phone_waits_for_a_program_admin_then_signs_in_and_syncs(field, person):
    phone = uuid.uuid4()
    refused = login(person, phone, app_version="1.4.0")
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "device_pending_approval" and "program admin" in body["message"]
    device = Device.objects.get(pk=phone)  # registered, so the admin sees it
    assert device.approved_at is None and device.app_version == "1.4.0"
    assert not TokenFamily.objects.filter(device=device).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DEVICE_PENDING, object_id=str(phone)).exists()
    assert login(person, phone).json()["code"] == "device_pending_approval"  # asking again changes nothing

    admin = field.user("macro_admin", field.macro, None, "program_admin")
    device_approve(device=device, actor=admin)
    pair = login(person, phone)
    assert pair.status_code == 200, pair.json()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.json()['access']}")
    assert pull(api).status_code == 200


def test_revoking_a_phone_then_signing_in_on_another_is_pending_not_silent(field, person):
    devices_allow(user=person, count=1, actor=None)  # an admin handed out a phone
    first = uuid.uuid4()
    assert login(person, first).status_code == 200
    device_revoke(device=Device.objects.get(pk=first), actor=None)
    assert login(person, first).json()["code"] == "device_revoked"
    devices_allow(user=person, count=1, actor=None)
    device_revoke(device=Device.objects.get(pk=first), actor=None)  # revoking again still ends any allowance
    person.refresh_from_db()
    assert person.new_devices_allowed == 0
    second = login(person, uuid.uuid4())
    assert second.status_code == 403 and second.json()["code"] == "device_pending_approval"


def test_an_allowance_is_used_up_one_phone_at_a_time(field, person):
    devices_allow(user=person, count=1, actor=None)
    used = uuid.uuid4()
    assert login(person, used).status_code == 200
    assert Device.objects.get(pk=used).approval == Device.Approval.ALLOWANCE
    assert login(person, used).status_code == 200  # the same phone again: already approved
    assert login(person, uuid.uuid4()).json()["code"] == "device_pending_approval"


def test_an_authenticator_code_approves_only_where_the_program_allows_it(field):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    supervisor = field.supervisor
    supervisor.set_password(PASSWORD)
    supervisor.save()
    totp_device = TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)

    def code():
        totp_device.refresh_from_db()
        totp = TOTP(totp_device.bin_key, totp_device.step, totp_device.t0, totp_device.digits, totp_device.drift)
        totp.time = timezone.now().timestamp() + 30 * code.calls  # a fresh step each time: a code works once
        code.calls += 1
        return str(totp.token()).zfill(6)

    code.calls = 0
    phone = uuid.uuid4()
    assert field.macro.device_policy == Program.DevicePolicy.ADMIN_APPROVAL  # the default
    assert login(supervisor, phone, otp=code()).json()["code"] == "device_pending_approval"
    field.macro.device_policy = Program.DevicePolicy.SECOND_FACTOR
    field.macro.save()
    TOTPDevice.objects.filter(pk=totp_device.pk).update(last_t=-1)
    assert login(supervisor, phone, otp=code()).status_code == 200
    assert Device.objects.get(pk=phone).approval == Device.Approval.SECOND_FACTOR


def test_a_session_on_a_pending_device_is_refused_with_the_code(field):
    device = field.device(field.responder, approved=False)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(field.responder, device)}")
    response = pull(api)
    assert response.status_code == 403 and response.json()["code"] == "device_pending_approval"


def test_a_person_in_two_programs_gets_the_stricter_policy(field):
    from responders.services import device_policy_for

    field.dvp.device_policy = Program.DevicePolicy.SECOND_FACTOR
    field.dvp.save()
    assert device_policy_for(field.interrupter) == Program.DevicePolicy.SECOND_FACTOR
    both = field.user("both", field.dvp, field.team_d, "field_responder")
    from responders.models import Membership

    Membership.objects.create(user=both, program=field.macro, team=field.team_a, role="field_responder")
    assert device_policy_for(both) == Program.DevicePolicy.ADMIN_APPROVAL


def test_every_device_event_is_filed_under_its_owners_program(field, person):
    """Pending, approved (by an admin or by an allowance at sign-in) and revoked: one audit helper, and each event
    lands in the program's trail, so a program admin reading /admin/audit/ sees their queue's history. Before,
    the four calls were written out twice over with no program, and the program's admins saw none of them."""
    admin = field.user("macro_admin", field.macro, None, "program_admin")
    pending = uuid.uuid4()
    login(person, pending)
    device_approve(device=Device.objects.get(pk=pending), actor=admin)
    devices_allow(user=person, count=1, actor=admin)
    allowed = uuid.uuid4()
    assert login(person, allowed).status_code == 200
    device_revoke(device=Device.objects.get(pk=allowed), actor=admin)
    events = AuditEvent.objects.filter(object_type="device").order_by("id")
    assert [(e.action, e.object_id, e.program) for e in events] == [
        (AuditEvent.Action.DEVICE_PENDING, str(pending), field.macro),
        (AuditEvent.Action.DEVICE_APPROVED, str(pending), field.macro),
        (AuditEvent.Action.DEVICE_APPROVED, str(allowed), field.macro),
        (AuditEvent.Action.DEVICE_REVOKED, str(allowed), field.macro),
    ]
    assert [e.detail.get("approval") for e in events if e.action == AuditEvent.Action.DEVICE_APPROVED] == [
        Device.Approval.ADMIN,
        Device.Approval.ALLOWANCE,
    ]
    # The program admin's audit list in the admin shows them.
    User.objects.filter(pk=admin.pk).update(is_staff=True)
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/audit/auditevent/", {"action": "auth.device_approved"}).content.decode()
    assert "2 audit events" in listing and listing.count("Device approved") >= 2
