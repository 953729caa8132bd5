"""The security checklist as tests: URL-generated access, deploy settings, logs, faults, second factor, limits."""

import logging
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from incidents.models import Engagement
from responders.models import Device, Program
from sync.models import Mutation
from tests.support import ON_VIEW, mutation, push

# /api/v1/forms: the form descriptions (labels and code lists, as in docs/data-dictionary.md), no records.
PUBLIC = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/public/stats", "/api/v1/forms"}


def api_routes():
    """Every /api/v1/ route in the URL configuration, with sample ids filled in: new endpoints are included."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    for raw in walk(get_resolver().url_patterns):
        if not raw.startswith("api/v1/"):
            continue
        if "(?P<format>" in raw:
            continue
        yield _fill("/" + raw.replace("^", "").replace("$", ""))


def _fill(path):
    import re

    path = re.sub(r"<uuid:[a-z_]+>", str(uuid.uuid4()), path)
    path = re.sub(r"<int:[a-z_]+>", "1", path)
    path = re.sub(r"\(\?P<pk>[^)]*\)", str(uuid.uuid4()), path)
    return path


def test_every_non_public_api_route_refuses_anonymous_callers(db):
    routes = sorted(set(api_routes()))
    assert len(routes) >= 30
    checked = 0
    for path in routes:
        if path in PUBLIC:
            continue
        for method in ("get", "post", "patch", "delete"):
            response = getattr(APIClient(), method)(path, {}, format="json")
            if response.status_code == 405:
                continue
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["code"] == "not_authenticated"
            checked += 1
    assert checked >= 50


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "p" * 64 + "-production-like-key-9f8e7d",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_SECURE_COOKIES": "true",
        "DJANGO_ALLOWED_HOSTS": "fieldrecords.example.org",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_logs_carry_no_tokens_passwords_or_personal_fields(field, caplog):
    password = "a-very-secret-password-123"
    field.responder.set_password(password)
    field.responder.new_devices_allowed = 2  # two new phones sign in without approval
    field.responder.save()
    caplog.set_level(logging.DEBUG)
    api = APIClient()
    pair = api.post(
        "/api/v1/auth/login",
        {"username": field.responder.username, "password": password, "device_id": str(uuid.uuid4())},
        format="json",
    ).json()
    api.post(
        "/api/v1/auth/login",
        {"username": field.responder.username, "password": "wrong-" + password, "device_id": str(uuid.uuid4())},
        format="json",
    )
    refreshed = api.post("/api/v1/auth/refresh", {"refresh": pair["refresh"]}, format="json").json()
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed['access']}")
    push(
        authed,
        mutation(
            1,
            fields={
                **ON_VIEW,
                "persons": [{"alias": "Rainbow Coat", "initials": "RC"}],
                "notes": "Told us about his sister Marisol.",
            },
        ),
    )
    push(authed, mutation(2, fields={"origin": "911_dispatch", "notes": "Marisol again"}))  # rejected: logged
    logging.getLogger("probe").warning("Authorization: Bearer %s password=%s", pair["access"], password)
    text = "\n".join(handler_format(r) for r in caplog.records)
    assert text  # something was logged, or the test would prove nothing
    for secret in (
        password,
        pair["access"],
        pair["refresh"],
        refreshed["access"],
        refreshed["refresh"],
        "Rainbow Coat",
        "Marisol",
    ):
        assert secret not in text, secret


def handler_format(record):
    from backend.logging import RedactingFilter

    RedactingFilter().filter(record)
    return record.getMessage()


@pytest.mark.django_db(transaction=True)
def test_connection_killed_mid_push_applies_nothing_and_the_retry_succeeds():
    from tests.support import Field

    field = Field()
    api = field.api(field.responder)
    blocker = uuid.uuid4()
    push(api, mutation(1, record_id=blocker, fields=ON_VIEW))
    first, edit = (
        mutation(2, fields=ON_VIEW),
        mutation(3, "update", record_id=blocker, base_version=1, fields={"notes": "x"}),
    )
    locked, release, answer = threading.Event(), threading.Event(), {}

    def hold():  # the push's second mutation waits on this row lock, inside the push's transaction
        try:
            with transaction.atomic():
                Engagement.objects.select_for_update().get(pk=blocker)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    def run_push():
        try:
            answer["response"] = push(api, first, edit)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    pusher = threading.Thread(target=run_push)
    pusher.start()
    with connection.cursor() as cursor:
        for _ in range(100):
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            if row:
                break
            time.sleep(0.1)
        assert row, "the push never reached the lock"
        cursor.execute("SELECT pg_terminate_backend(%s)", [row[0]])
    pusher.join(30)
    release.set()
    holder.join()
    response = answer["response"]
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]
    assert not Engagement.objects.filter(pk=first["id"]).exists()  # the first mutation was rolled back too
    assert not Mutation.objects.filter(pk__in=[first["mutation_id"], edit["mutation_id"]]).exists()
    retry = push(field.api(field.responder, api.device), first, edit).json()["results"]
    assert [r["status"] for r in retry] == ["applied", "applied"]


def test_second_factor_for_supervisors(field):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    field.supervisor.set_password("supervisor-password-1")
    field.supervisor.save()
    field.macro.device_policy = Program.DevicePolicy.SECOND_FACTOR  # the code also approves the new phone
    field.macro.save()
    device = TOTPDevice.objects.create(user=field.supervisor, name="phone", confirmed=True)
    body = {"username": field.supervisor.username, "password": "supervisor-password-1", "device_id": str(uuid.uuid4())}
    missing = APIClient().post("/api/v1/auth/login", body, format="json")
    assert missing.status_code == 401 and missing.json()["code"] == "otp_required"
    wrong = APIClient().post("/api/v1/auth/login", {**body, "otp": "000000"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["code"] == "otp_invalid"
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows down guessing after a wrong code
    device.throttle_reset()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    ok = APIClient().post("/api/v1/auth/login", {**body, "otp": str(totp.token()).zfill(6)}, format="json")
    assert ok.status_code == 200, ok.json()
    assert Device.objects.get(pk=body["device_id"]).approval == Device.Approval.SECOND_FACTOR


def test_rate_limits_answer_429_with_retry_after(db, settings):
    from tests.support import fresh_address, throttle_rates

    with throttle_rates(settings, login="3/min"):
        api = APIClient(REMOTE_ADDR=fresh_address())
        codes = [
            api.post(
                "/api/v1/auth/login", {"username": "x", "password": "y", "device_id": str(uuid.uuid4())}, format="json"
            )
            for _ in range(5)
        ]
        assert [c.status_code for c in codes][:3] == [401, 401, 401]
        limited = codes[-1]
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert int(limited["Retry-After"]) > 0


def test_server_owned_fields_are_never_stored(field):
    """No mass assignment: every server-owned field sent on a write is refused, and nothing is stored."""
    api = field.api(field.responder)
    owned = {
        "program": field.dvp.pk,
        "created_by": field.supervisor.pk,
        "version": 99,
        "is_late": True,
        "server_received_at": "2020-01-01T00:00:00Z",
        "deleted_at": None,
        "review_status": "approved",
        "updated_by": 1,
        "created_on_device": str(uuid.uuid4()),
    }
    for name, value in owned.items():
        response = api.post("/api/v1/engagements", {**ON_VIEW, name: value}, format="json")
        assert response.status_code == 400 and response.json()["fields"][name][0]["code"] == "unknown_field"
        shift = api.post(
            "/api/v1/shifts", {"call_sign": "M", "started_at": "2026-11-24T07:00:00Z", name: value}, format="json"
        )
        assert shift.status_code == 400
    assert Engagement.objects.count() == 0
    r = push(api, mutation(1, fields={**ON_VIEW, "review_status": "approved"})).json()["results"][0]
    assert r["status"] == "rejected" and r["fields"]["review_status"][0]["code"] == "unknown_field"


def test_database_down_answers_503_quickly_not_a_hang():
    """With the database unreachable, health and API requests answer 503 within the connect timeout."""
    script = (
        "import time, uuid; from django.test import Client; from rest_framework_simplejwt.tokens import AccessToken;"
        "from responders.models import User;"
        "token = AccessToken.for_user(User(id=1)); token['sid'] = str(uuid.uuid4());"
        "c = Client(); t = time.monotonic();"
        "h = c.get('/healthz'); a = c.get('/api/v1/me', HTTP_AUTHORIZATION='Bearer ' + str(token));"
        "print('RESULT', h.status_code, a.status_code, a.json()['code'], a.get('Retry-After'),"
        " round(time.monotonic() - t, 1))"
    )
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere", "DATABASE_CONNECT_TIMEOUT": "2"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT")), result.stdout + result.stderr)
    assert line.split()[1:5] == ["503", "503", "service_unavailable", "5"], line
    assert time.monotonic() - started < 30
