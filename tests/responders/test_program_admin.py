"""Program administration: a program admin runs their own program in /admin/, the team/program wall holds in the
model, the admin and the database, and every change lands in the audit trail."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from audit.models import AuditEvent
from incidents.models import Engagement
from responders.models import Device, Membership, Role, Team, User
from tests.support import ON_VIEW, mutation, push


@pytest.fixture
def admins(field):
    """A program admin for each program, signed in to the Django admin."""
    out = {}
    for name, program in (("macro", field.macro), ("dvp", field.dvp)):
        user = field.user(f"{name}_admin", program, None, Role.PROGRAM_ADMIN)
        User.objects.filter(pk=user.pk).update(is_staff=True)
        user.refresh_from_db()
        client = Client()
        client.force_login(user)
        out[name] = (user, client)
    return out


def test_a_membership_on_a_team_of_another_program_is_refused_by_the_orm_and_the_database(field):
    # The hole: a MACRO membership saved with team DVP/zone-west.
    membership = Membership.objects.get(user=field.responder)
    membership.team = field.team_d2
    with pytest.raises(ValidationError) as refused:
        membership.full_clean()
    assert refused.value.error_dict["team"][0].code == "team_in_other_program"
    with pytest.raises(IntegrityError), transaction.atomic():
        membership.save()  # save() does not call clean(): the database itself refuses
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(team=field.team_d2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=field.other_team, program=field.dvp, team=field.team_a, role=Role.ANALYST)
    membership.refresh_from_db()
    assert membership.team_id == field.team_a.pk


def test_the_next_engagement_stays_in_macro_after_the_superuser_tries_the_dvp_team(field):
    superuser = User.objects.create(username=f"root-{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    membership = Membership.objects.get(user=field.responder)
    page = client.get(f"/admin/responders/membership/{membership.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/responders/membership/{membership.pk}/change/",
        {
            "program": field.macro.pk,
            "team": field.team_d2.pk,
            "role": Role.FIELD_RESPONDER,
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "belongs to DVP, not MACRO" in response.content.decode()
    membership.refresh_from_db()
    assert membership.team_id == field.team_a.pk
    api = field.api(field.responder)
    record_id = uuid.uuid4()
    assert push(api, mutation(1, record_id=record_id, fields=dict(ON_VIEW))).status_code == 200
    assert Engagement.objects.get(pk=record_id).program_id == field.macro.pk


def test_the_user_page_refuses_a_dvp_team_on_a_macro_role(field, admins):
    _, client = admins["macro"]
    membership = Membership.objects.get(user=field.responder)
    form = user_form(field.responder, [membership], team=field.team_d2.pk)
    response = client.post(f"/admin/responders/user/{field.responder.pk}/change/", form)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()  # a DVP team is not even offered to MACRO
    membership.refresh_from_db()
    assert membership.team_id == field.team_a.pk


def user_form(user, memberships, **change):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": "",
        "is_active": "on",
        "new_devices_allowed": "0",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "",
        "date_joined_1": "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, m in enumerate(memberships):
        data.update(
            {
                f"memberships-{i}-id": str(m.pk),
                f"memberships-{i}-user": str(user.pk),
                f"memberships-{i}-program": str(m.program_id),
                f"memberships-{i}-team": str(change.get("team", m.team_id) or ""),
                f"memberships-{i}-role": change.get("role", m.role),
                f"memberships-{i}-is_active": "on",
            }
        )
    return data


def test_moving_someone_between_teams_is_audited(field, admins):
    admin_user, client = admins["macro"]
    membership = Membership.objects.get(user=field.responder)
    form = user_form(field.responder, [membership], team=field.team_b.pk)
    response = client.post(f"/admin/responders/user/{field.responder.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    membership.refresh_from_db()
    assert membership.team_id == field.team_b.pk
    moved = AuditEvent.objects.get(action=AuditEvent.Action.MEMBERSHIP_MOVED)
    assert moved.actor_id == admin_user.pk and moved.program_id == field.macro.pk
    assert moved.detail["from_team_id"] == field.team_a.pk and moved.detail["to_team_id"] == field.team_b.pk
    assert moved.detail["user_id"] == field.responder.pk
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_CHANGE, object_id=str(field.responder.pk)).exists()


def test_a_program_admin_sees_and_changes_only_their_program(field, admins):
    _, macro = admins["macro"]
    index = macro.get("/admin/").content.decode()
    assert "permission to view or edit anything" not in index
    for name in ("Users", "Teams", "Devices", "Memberships"):
        assert name in index
    assert "Organizations" not in index and "Login failures" not in index

    people = macro.get("/admin/responders/user/").content.decode()
    assert field.responder.username in people and field.interrupter.username not in people
    assert macro.get(f"/admin/responders/user/{field.interrupter.pk}/change/").status_code == 302  # "doesn't exist"
    teams = macro.get("/admin/responders/team/").content.decode()
    assert "van-1" in teams and "zone-east" not in teams
    assert macro.get(f"/admin/responders/team/{field.team_d.pk}/change/").status_code == 302

    dvp_phone = field.device(field.interrupter)
    macro_phone = field.device(field.responder)
    devices = macro.get("/admin/responders/device/").content.decode()
    assert str(macro_phone) in devices and str(dvp_phone) not in devices
    # An action on a device of the other program, by id, does nothing: the queryset never holds it.
    macro.post("/admin/responders/device/", {"action": "revoke", "_selected_action": [str(dvp_phone.pk)], "index": "0"})
    dvp_phone.refresh_from_db()
    assert dvp_phone.revoked_at is None

    # The superuser's own page, other programs' people and the permission fields are not theirs.
    page = macro.get(f"/admin/responders/user/{field.responder.pk}/change/").content.decode()
    assert "is_superuser" not in page and "is_staff" not in page and "user_permissions" not in page


def test_a_program_admin_adds_a_person_gives_a_role_and_the_team_list_holds_only_their_teams(field, admins):
    admin_user, client = admins["dvp"]
    response = client.post(
        "/admin/responders/user/add/",
        {
            "username": "new_interrupter",
            "usable_password": "true",
            "password1": "a-long-pass-2026!",
            "password2": "a-long-pass-2026!",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    person = User.objects.get(username="new_interrupter")
    page = client.get(f"/admin/responders/user/{person.pk}/change/").content.decode()
    assert "zone-east" in page and "van-1" not in page
    data = user_form(person, [])
    data.update(
        {
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(person.pk),
            "memberships-0-program": str(field.dvp.pk),
            "memberships-0-team": str(field.team_d.pk),
            "memberships-0-role": Role.FIELD_RESPONDER,
            "memberships-0-is_active": "on",
        }
    )
    assert client.post(f"/admin/responders/user/{person.pk}/change/", data).status_code == 302
    assert Membership.objects.get(user=person).team_id == field.team_d.pk
    added = AuditEvent.objects.get(action=AuditEvent.Action.MEMBERSHIP_ADDED)
    assert added.actor_id == admin_user.pk and added.detail["team_id"] == field.team_d.pk
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_ADD, object_id=str(person.pk)).exists()


def test_a_team_cannot_be_moved_to_another_program(field, admins):
    _, macro = admins["macro"]
    response = macro.post(
        f"/admin/responders/team/{field.team_a.pk}/change/",
        {"program": field.dvp.pk, "name": "Van 1", "code": "van-1", "is_active": "on"},
    )
    assert response.status_code == 302
    field.team_a.refresh_from_db()
    assert field.team_a.program_id == field.macro.pk  # the program field is read-only once the team exists
    assert Team.objects.filter(program=field.dvp, code="van-1").count() == 0


def test_people_without_a_program_admin_role_get_nothing_in_the_admin(field):
    User.objects.filter(pk=field.supervisor.pk).update(is_staff=True)
    client = Client()
    client.force_login(User.objects.get(pk=field.supervisor.pk))
    assert "permission to view or edit anything" in client.get("/admin/").content.decode()
    assert client.get("/admin/responders/user/").status_code == 403


def test_devices_list_shows_pending_and_the_approval_is_audited(field, admins):
    admin_user, client = admins["macro"]
    pending = field.device(field.responder, approved=False)
    Device.objects.filter(pk=pending.pk).update(app_version="2.1.0")
    page = client.get("/admin/responders/device/?status=pending").content.decode()
    assert "Waiting for approval" in page and "2.1.0" in page
    client.post("/admin/responders/device/", {"action": "approve", "_selected_action": [str(pending.pk)], "index": "0"})
    pending.refresh_from_db()
    assert pending.approved_by_id == admin_user.pk and pending.approval == Device.Approval.ADMIN
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DEVICE_APPROVED, object_id=str(pending.pk)).exists()


def test_the_superuser_cannot_put_a_macro_role_on_a_dvp_team_on_the_person_page(field):
    # As reported: saved through the superuser's person page, and the person's next engagement came back DVP.
    superuser = User.objects.create(username=f"root-{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    membership = Membership.objects.get(user=field.responder)
    response = client.post(
        f"/admin/responders/user/{field.responder.pk}/change/",
        user_form(field.responder, [membership], team=field.team_d2.pk),
    )
    assert response.status_code == 200  # the form again, with the error
    membership.refresh_from_db()
    assert membership.team_id == field.team_a.pk
    record_id = uuid.uuid4()
    assert push(field.api(field.responder), mutation(1, record_id=record_id, fields=dict(ON_VIEW))).status_code == 200
    assert Engagement.objects.get(pk=record_id).program_id == field.macro.pk
