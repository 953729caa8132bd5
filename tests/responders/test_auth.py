"""Sign-in, token rotation, revocation, session limits, lockout, and the error shape of bad input."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from responders.models import Device, LoginFailure, RefreshToken, TokenFamily, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(field):
    user = field.responder
    user.set_password(PASSWORD)
    user.new_devices_allowed = 100  # new phones sign in here; tests/responders/test_devices.py tests the approval
    user.save()
    return user


def login(api, user, device_id=None, password=PASSWORD, **extra):
    return api.post(
        "/api/v1/auth/login",
        {"username": user.username, "password": password, "device_id": str(device_id or uuid.uuid4()), **extra},
        format="json",
    )


def bearer(access):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def test_login_registers_the_device_and_gives_a_working_pair(person):
    device_id = uuid.uuid4()
    response = login(APIClient(), person, device_id, device_name="Van 1 phone", app_version="1.4.0")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["device_id"] == str(device_id) and body["token_type"] == "Bearer"
    device = Device.objects.get(pk=device_id)
    assert (device.user, device.name, device.app_version) == (person, "Van 1 phone", "1.4.0")
    me = bearer(body["access"]).get("/api/v1/me").json()
    assert me["username"] == person.username and me["device"]["id"] == str(device_id)
    assert [m["role"] for m in me["memberships"]] == ["field_responder"]
    assert AuditEvent.objects.filter(action="auth.login", actor=person).count() == 1
    # Only a hash of the refresh token is stored.
    assert not RefreshToken.objects.filter(token_hash=body["refresh"]).exists()


def test_wrong_password_and_unknown_user_look_the_same(person):
    wrong = login(APIClient(), person, password="nope")
    unknown = APIClient().post(
        "/api/v1/auth/login", {"username": "ghost", "password": "x", "device_id": str(uuid.uuid4())}, format="json"
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 2


def test_device_of_another_user_is_refused(person, field):
    device = field.device(field.partner)
    response = login(APIClient(), person, device.pk)
    assert response.status_code == 403 and response.json()["code"] == "device_registered_to_another_user"


def test_refresh_rotates_and_each_token_works_once(person):
    first = login(APIClient(), person).json()
    second = APIClient().post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert second.status_code == 200
    assert second.json()["refresh"] != first["refresh"]
    assert bearer(second.json()["access"]).get("/api/v1/me").status_code == 200
    again = APIClient().post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert again.status_code == 401 and again.json()["code"] == "token_already_used"
    # Within the grace window a duplicate send does not end the session.
    assert TokenFamily.objects.get().revoked_at is None


@override_settings(REFRESH_REUSE_GRACE_SECONDS=0)
def test_reuse_of_an_old_refresh_token_revokes_the_whole_family(person):
    first = login(APIClient(), person).json()
    second = APIClient().post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json").json()
    RefreshToken.objects.filter(used_at__isnull=False).update(used_at=timezone.now() - timedelta(minutes=5))
    reuse = APIClient().post("/api/v1/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert reuse.status_code == 401 and reuse.json()["code"] == "token_reused"
    family = TokenFamily.objects.get()
    assert family.revoked_reason == "refresh_reuse"
    # The thief's and the owner's newer tokens are both dead now.
    assert bearer(second["access"]).get("/api/v1/me").json()["code"] == "session_ended"
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": second["refresh"]}, format="json").status_code == 401
    assert AuditEvent.objects.filter(action="auth.refresh_reuse").count() == 1


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_refreshes_of_one_token_yield_exactly_one_pair():
    from tests.support import Field

    field = Field()
    user = field.responder
    user.set_password(PASSWORD)
    user.new_devices_allowed = 100  # new phones sign in here; tests/responders/test_devices.py tests the approval
    user.save()
    refresh = login(APIClient(), user).json()["refresh"]
    barrier = threading.Barrier(8)
    answers = []
    lock = threading.Lock()

    def attempt():
        try:
            barrier.wait()
            response = APIClient().post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(status for status, _ in answers) == [200] + [401] * 7
    assert {body["code"] for status, body in answers if status == 401} == {"token_already_used"}
    assert RefreshToken.objects.count() == 2  # the login's and exactly one rotation
    new = next(body for status, body in answers if status == 200)
    assert bearer(new["access"]).get("/api/v1/me").status_code == 200


def test_logout_ends_the_session(person):
    pair = login(APIClient(), person).json()
    api = bearer(pair["access"])
    assert api.post("/api/v1/auth/logout").status_code == 204
    assert api.get("/api/v1/me").json()["code"] == "session_ended"
    assert APIClient().post("/api/v1/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_revoked_device_and_deactivated_user_stop_at_the_next_request(person, field):
    pair = login(APIClient(), person).json()
    api = bearer(pair["access"])
    device = Device.objects.get(pk=pair["device_id"])
    supervisor_pair = login(APIClient(), _with_password(field.supervisor)).json()
    revoked = bearer(supervisor_pair["access"]).post(f"/api/v1/devices/{device.pk}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.get("/api/v1/me").json()["code"] == "device_revoked"
    assert login(APIClient(), person, device.pk).json()["code"] == "device_revoked"
    # Whoever holds the password cannot just sign in on another phone: the revocation ended the allowance.
    again = login(APIClient(), person)
    assert again.status_code == 403 and again.json()["code"] == "device_pending_approval"

    other = login(APIClient(), _with_password(field.partner)).json()
    User.objects.filter(pk=field.partner.pk).update(is_active=False)
    response = bearer(other["access"]).get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "user_inactive"


def test_device_revocation_is_for_supervisors_of_that_team(field):
    device = field.device(field.responder)
    for user, status in ((field.other_team, 404), (field.partner, 404), (field.interrupter, 404)):
        assert field.api(user).post(f"/api/v1/devices/{device.pk}/revoke").status_code == status
    assert Device.objects.get(pk=device.pk).revoked_at is None


@pytest.mark.parametrize(("shift", "code"), [("expires_at", "session_expired"), ("last_used_at", "session_idle")])
def test_session_has_an_absolute_and_an_idle_limit(person, shift, code):
    api = bearer(login(APIClient(), person).json()["access"])
    TokenFamily.objects.update(**{shift: timezone.now() - timedelta(hours=13)})
    response = api.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == code


@override_settings(LOGIN_MAX_FAILURES=3)
def test_repeated_failures_lock_the_account(person):
    for _ in range(3):
        assert login(APIClient(), person, password="wrong").status_code == 401
    locked = login(APIClient(), person)  # even the right password
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"
    failures = LoginFailure.objects.get()  # per username and address (tests/security/test_lockout.py)
    assert failures.failures == 3 and failures.locked_until > timezone.now()


@override_settings(LOGIN_MAX_FAILURES=5)
@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_counted_atomically():
    from tests.support import Field

    user = Field().responder
    user.set_password(PASSWORD)
    user.save()
    barrier = threading.Barrier(8)

    def attempt():
        try:
            barrier.wait()
            login(APIClient(), user, password="wrong")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    failures = LoginFailure.objects.get()
    assert failures.failures == 8 and failures.locks == 1  # no lost updates; one lock, not one per late attempt
    assert failures.locked_until is not None


def test_tokens_are_checked_for_algorithm_audience_and_issuer(person):
    import jwt
    from django.conf import settings

    pair = login(APIClient(), person).json()
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    forged = {
        "wrong audience": jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256"),
        "wrong issuer": jwt.encode({**claims, "iss": "someone-else"}, key, algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "other algorithm": jwt.encode(claims, key, algorithm="HS512"),
        "wrong key": jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256"),
    }
    for name, token in forged.items():
        response = bearer(token).get("/api/v1/me")
        assert response.status_code == 401, name
        assert response.json()["code"] == "token_invalid", name


def _with_password(user):
    user.set_password(PASSWORD)
    user.new_devices_allowed = 100  # new phones sign in here; tests/responders/test_devices.py tests the approval
    user.save()
    return user


# --- bad input: always a 4xx in one shape, never a 500 ---


def test_unknown_route_is_a_json_404():
    response = APIClient().get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_malformed_json_is_a_400(field):
    response = field.api(field.responder).generic(
        "POST", "/api/v1/sync/push", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"


def test_oversized_body_is_a_413(field, settings):
    settings.MAX_REQUEST_BYTES = 1000
    response = field.api(field.responder).post(
        "/api/v1/sync/push", {"protocol": 1, "mutations": [], "pad": "x" * 2000}, format="json"
    )
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"


@pytest.mark.parametrize("body", [{}, {"username": "x"}, {"username": 5, "password": [], "device_id": "nope"}])
def test_missing_and_wrong_fields_are_field_errors(body):
    response = APIClient().post("/api/v1/auth/login", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and response.json()["fields"]


def test_unauthenticated_is_401_in_the_error_shape():
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_health_schema_and_docs(db):
    api = APIClient()
    assert api.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert api.get("/api/schema/").status_code == 200
    assert api.get("/api/docs/").status_code == 200


def test_audit_trail_refuses_updates_and_deletes(person):
    login(APIClient(), person)
    event = AuditEvent.objects.first()
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(action="x")
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'x'")  # even raw SQL, on PostgreSQL
