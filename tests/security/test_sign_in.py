"""One way in: the supervisor pages and the Django admin sign in through the same service as the API.

Each test signs in as a person would, through the form a browser posts, and then opens a page.
"""

import uuid

import pytest
from django.test import Client, override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.support import fresh_address, throttle_rates

PASSWORD = "supervisor-password-1"


def _code(device):
    device.refresh_from_db()
    return str(TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()).zfill(6)


def web_login(client, user, password=PASSWORD, otp=None, path="/supervisor/login/"):
    """POST the sign-in form as a browser does."""
    data = {"username": user.username, "password": password}
    if otp is not None:
        data["otp"] = otp
    return client.post(path, data)


def api_login(user, password=PASSWORD, address="127.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/login",
        {"username": user.username, "password": password, "device_id": str(uuid.uuid4())},
        format="json",
    )


@pytest.fixture
def supervisor(field):
    field.supervisor.set_password(PASSWORD)
    field.supervisor.new_devices_allowed = 100  # new phones sign in here (tests/responders/test_devices.py)
    field.supervisor.save()
    return field.supervisor


@pytest.fixture
def superuser(field):
    from responders.models import User

    user = User.objects.create(username=f"root-{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_web_sign_in_without_the_second_factor_opens_nothing(supervisor):
    device = TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    client = Client()
    response = web_login(client, supervisor)
    assert response.status_code == 200  # the form again, not a redirect into the pages
    assert b"code from your authenticator" in response.content
    assert client.get("/supervisor/").status_code == 302  # still signed out
    wrong = web_login(client, supervisor, otp="000000")
    assert wrong.status_code == 200 and client.get("/supervisor/").status_code == 302
    device.refresh_from_db()
    device.throttle_reset()
    ok = web_login(client, supervisor, otp=_code(device))
    assert ok.status_code == 302
    assert client.get("/supervisor/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.otp_failed", actor=supervisor).count() == 1
    assert AuditEvent.objects.filter(action="auth.login", actor=supervisor, detail__channel="web").count() == 1


def test_account_locked_through_the_api_is_locked_on_the_web(supervisor, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert api_login(supervisor, password="wrong").status_code == 401
    assert api_login(supervisor).status_code == 429
    client = Client()
    response = web_login(client, supervisor)
    assert response.status_code == 429
    assert client.get("/supervisor/").status_code == 302


@override_settings(LOGIN_MAX_FAILURES=5)
def test_many_wrong_web_passwords_lock_the_account_everywhere(supervisor):
    client = Client()
    for _ in range(25):
        assert web_login(client, supervisor, password="wrong").status_code in (200, 429)
    right = web_login(client, supervisor)
    assert right.status_code == 429
    assert client.get("/supervisor/").status_code == 302
    assert api_login(supervisor).json()["code"] == "account_locked"
    assert AuditEvent.objects.filter(action="auth.login_failed").count() >= 5


def test_admin_sign_in_needs_the_second_factor_and_respects_the_lock(superuser, settings):
    device = TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    client = Client()
    response = web_login(client, superuser, path="/admin/login/")
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302  # to the admin's login
    ok = web_login(client, superuser, otp=_code(device), path="/admin/login/")
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200
    # A locked account cannot sign in to the admin either.
    settings.LOGIN_MAX_FAILURES = 2
    other = Client()
    for _ in range(2):
        web_login(other, superuser, password="wrong", path="/admin/login/")
    device.throttle_reset()
    locked = web_login(other, superuser, otp=_code(device), path="/admin/login/")
    assert locked.status_code == 429
    assert other.get("/admin/").status_code == 302


def test_web_sign_in_shares_the_login_rate_limit(supervisor, settings):
    address = fresh_address()
    with throttle_rates(settings, login="3/min"):
        client = Client(REMOTE_ADDR=address)
        codes = [web_login(client, supervisor, password=f"wrong-{i}").status_code for i in range(3)]
        assert codes == [200, 200, 200]
        limited = web_login(client, supervisor)  # the right password, but over the limit
        assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
        assert client.get("/supervisor/").status_code == 302
        # The API login shares the same budget for this address; another address has its own.
        assert api_login(supervisor, address=address).status_code == 429
        assert api_login(supervisor, address=fresh_address()).status_code == 200


def test_a_session_from_before_the_second_factor_must_sign_in_again(supervisor, superuser):
    pages, admin = Client(), Client()
    pages.force_login(supervisor)  # signed in before a device was confirmed
    admin.force_login(superuser)
    assert pages.get("/supervisor/").status_code == 200 and admin.get("/admin/").status_code == 200
    TOTPDevice.objects.create(user=supervisor, name="phone", confirmed=True)
    TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    assert pages.get("/supervisor/").status_code == 302
    assert pages.get("/supervisor/").status_code == 302  # signed out, not only turned away once
    assert admin.get("/admin/").status_code == 302
