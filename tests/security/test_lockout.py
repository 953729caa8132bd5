"""Lockout that neither tells which usernames exist nor lets anyone lock anyone out."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.support import fresh_address

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(field):
    field.responder.set_password(PASSWORD)
    field.responder.new_devices_allowed = 100  # new phones sign in here (tests/responders/test_devices.py)
    field.responder.save()
    return field.responder


def login(username, password, address):
    response = APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/login",
        {"username": username, "password": password, "device_id": str(uuid.uuid4())},
        format="json",
    )
    return response.status_code, response.json()["code"] if response.status_code != 200 else "ok"


def expire_locks():
    from responders.models import LoginFailure

    LoginFailure.objects.filter(locked_until__isnull=False).update(locked_until=timezone.now() - timedelta(seconds=1))


def test_unknown_and_known_usernames_lock_alike(person, settings):
    settings.LOGIN_MAX_FAILURES = 3
    address = fresh_address()
    known = [login(person.username, "wrong", address) for _ in range(4)]
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    unknown = [login(ghost, "wrong", address) for _ in range(4)]
    assert known == unknown == [(401, "invalid_credentials")] * 3 + [(429, "account_locked")]


def test_a_lock_holds_for_the_address_that_earned_it_not_for_the_person(person, settings):
    settings.LOGIN_MAX_FAILURES = 3
    attacker, owner = fresh_address(), fresh_address()
    for _ in range(5):
        login(person.username, "wrong", attacker)
    assert login(person.username, PASSWORD, attacker) == (429, "account_locked")  # even the right password
    assert login(person.username, PASSWORD, owner) == (200, "ok")  # the owner, elsewhere, is not locked out
    # And the same on the supervisor pages.
    page = Client(REMOTE_ADDR=attacker).post("/supervisor/login/", {"username": person.username, "password": PASSWORD})
    assert page.status_code == 429


def test_counters_restart_when_a_lock_expires_and_locks_back_off(person, settings):
    from responders.models import LoginFailure

    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 60
    address = fresh_address()
    for _ in range(3):
        login(person.username, "wrong", address)
    first = LoginFailure.objects.get()
    first_lock = (first.locked_until - timezone.now()).total_seconds()
    assert 50 < first_lock <= 60
    expire_locks()
    # After the lock: the full allowance again, not a lock at the next mistake.
    assert [login(person.username, "wrong", address) for _ in range(3)] == [(401, "invalid_credentials")] * 3
    assert login(person.username, PASSWORD, address) == (429, "account_locked")
    again = LoginFailure.objects.get()
    second_lock = (again.locked_until - timezone.now()).total_seconds()
    assert 110 < second_lock <= 120  # twice as long the second time
    expire_locks()
    assert login(person.username, PASSWORD, address) == (200, "ok")
    assert not LoginFailure.objects.exists()  # a success forgets the failures of that address


def test_day_old_failures_are_purged_but_running_locks_are_kept(db):
    from responders.models import LoginFailure
    from responders.services import login_failures_purge

    addresses = [fresh_address() for _ in range(3)]
    for n, address in enumerate(addresses):
        login(f"ghost-{n}", "wrong", address)
    old, locked, recent = LoginFailure.objects.order_by("id")
    two_days_ago = timezone.now() - timedelta(days=2)
    LoginFailure.objects.filter(pk=old.pk).update(last_failure_at=two_days_ago)
    LoginFailure.objects.filter(pk=locked.pk).update(
        last_failure_at=two_days_ago, locked_until=timezone.now() + timedelta(hours=1)
    )
    assert login_failures_purge() == 1
    assert set(LoginFailure.objects.values_list("pk", flat=True)) == {locked.pk, recent.pk}
    assert login("ghost-1", "wrong", addresses[1]) == (429, "account_locked")
