"""Shared test helpers: a small world of programs, teams, users and devices; API clients with real tokens."""

import uuid

from django.utils import timezone
from rest_framework.test import APIClient

from responders.models import Device, Membership, Organization, Program, Role, Team, TokenFamily, User
from sync.client import SyncClient


def issue_access_token(user, device):
    """A real access token for a real session (without paying for Argon2 on every test)."""
    from datetime import timedelta

    from responders.services import _issue_pair

    now = timezone.now()
    family = TokenFamily.objects.create(
        user=user, device=device, created_at=now, last_used_at=now, expires_at=now + timedelta(hours=12)
    )
    return _issue_pair(family, now).access


class APITransport:
    """The reference client's transport over Django's test client (same code path as HTTP)."""

    def __init__(self, api):
        self.api = api

    def __call__(self, method, path, body=None, params=None):
        if method == "GET":
            response = self.api.get(path, params or {})
        else:
            response = self.api.post(path, body, format="json")
        return response.status_code, response.json() if response.content else None


class Field:
    """Who is who in a sync test."""

    def __init__(self):
        org = Organization.objects.create(name="Oakland", slug=f"oak-{uuid.uuid4().hex[:12]}")
        self.macro = Program.objects.create(organization=org, code="MACRO", name="MACRO")
        self.dvp = Program.objects.create(organization=org, code="DVP", name="DVP")
        self.team_a = Team.objects.create(program=self.macro, code="van-1", name="Van 1")
        self.team_b = Team.objects.create(program=self.macro, code="van-2", name="Van 2")
        self.team_d = Team.objects.create(program=self.dvp, code="zone-east", name="Zone East")
        self.team_d2 = Team.objects.create(program=self.dvp, code="zone-west", name="Zone West")
        self.responder = self.user("responder", self.macro, self.team_a, Role.FIELD_RESPONDER)
        self.partner = self.user("partner", self.macro, self.team_a, Role.FIELD_RESPONDER)
        self.other_team = self.user("other_team", self.macro, self.team_b, Role.FIELD_RESPONDER)
        self.supervisor = self.user("supervisor", self.macro, self.team_a, Role.SUPERVISOR)
        self.program_supervisor = self.user("program_supervisor", self.macro, None, Role.SUPERVISOR)
        self.interrupter = self.user("interrupter", self.dvp, self.team_d, Role.FIELD_RESPONDER)
        self.coordinator = self.user("coordinator", self.dvp, self.team_d, Role.COORDINATOR)
        self.interrupter_b = self.user("interrupter_b", self.dvp, self.team_d2, Role.FIELD_RESPONDER)
        self.dvp_supervisor = self.user("dvp_supervisor", self.dvp, self.team_d, Role.SUPERVISOR)
        self.macro_analyst = self.user("macro_analyst", self.macro, None, Role.ANALYST)
        self.dvp_analyst = self.user("dvp_analyst", self.dvp, None, Role.ANALYST)

    def user(self, name, program, team, role):
        user = User.objects.create(username=f"{name}-{uuid.uuid4().hex[:12]}")
        Membership.objects.create(user=user, program=program, team=team, role=role)
        return user

    def device(self, user, approved=True):
        """A registered phone. Approved by default, as a program admin would have approved it: the tests of the
        new-device policy itself (tests/responders/test_devices.py) ask for a pending one."""
        return Device.objects.create(
            id=uuid.uuid4(),
            user=user,
            name=f"{user.username}-phone",
            approved_at=timezone.now() if approved else None,
            approval=Device.Approval.ADMIN if approved else "",
        )

    def api(self, user, device=None):
        device = device or self.device(user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(user, device)}")
        api.device = device
        return api

    def client(self, user, device=None, batch_size=100):
        return SyncClient(APITransport(self.api(user, device)), batch_size=batch_size)


def push(api, *mutations, protocol=1):
    return api.post("/api/v1/sync/push", {"protocol": protocol, "mutations": list(mutations)}, format="json")


def pull(api, cursor=None, limit=None):
    params = {"protocol": 1}
    if cursor:
        params["cursor"] = cursor
    if limit:
        params["limit"] = limit
    return api.get("/api/v1/sync/pull", params)


def mutation(seq, op="create", type_="engagement", record_id=None, fields=None, base_version=None, **extra):
    body = {
        "mutation_id": str(uuid.uuid4()),
        "seq": seq,
        "type": type_,
        "op": op,
        "id": str(record_id or uuid.uuid4()),
        "fields": fields if fields is not None else {},
    }
    if base_version is not None:
        body["base_version"] = base_version
    body.update(extra)
    return body


ON_VIEW = {
    "origin": "on_view",
    "needs": ["housing"],
    "supplies": {"water": 2},
    "notes": "Checked on a man at the bus stop.",
}


def wait_for_stable_horizon(seconds=30):
    """Wait until every committed change is below the pull horizon; fail loudly if it is not within `seconds`.

    Only transactions that write sync changes in this database hold the horizon back (sync/changes.py), and the
    tests' own writes last milliseconds: a wait that runs out means a sync write was left open, which is a bug
    to see, not a delay to pass over.
    """
    import time

    from django.db import connection

    from sync.changes import horizon

    deadline = time.monotonic() + seconds
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(txid::text::bigint), 0) FROM sync_change")
            newest = cursor.fetchone()[0]
        hz = horizon()
        if hz.below > newest:
            return
        if time.monotonic() > deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, state, now() - xact_start, left(query, 200) FROM pg_stat_activity WHERE pid IN "
                    "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1)"
                )
                holders = cursor.fetchall()
            raise AssertionError(
                f"the pull horizon stayed at {hz.below} (newest change {newest}) for {seconds} s: a sync write "
                f"has been open for {hz.held_by} s; advisory lock holders: {holders}"
            )
        time.sleep(0.05)


def fresh_address():
    """A client address no other test uses: its rate-limit counts start at zero (the cache is never cleared,
    it is shared)."""
    import random

    return "10.{}.{}.{}".format(*(random.randint(0, 255) for _ in range(3)))  # noqa: S311


class throttle_rates:  # noqa: N801 - used as a context manager
    """Run with some rate limits changed, e.g. throttle_rates(settings, login="3/min")."""

    def __init__(self, settings, **rates):
        self.settings, self.rates = settings, rates

    def __enter__(self):
        from rest_framework.settings import api_settings
        from rest_framework.throttling import SimpleRateThrottle

        self.saved = self.settings.REST_FRAMEWORK
        rates = {**self.saved["DEFAULT_THROTTLE_RATES"], **self.rates}
        self.settings.REST_FRAMEWORK = {**self.settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return self

    def __exit__(self, *exc):
        from rest_framework.settings import api_settings
        from rest_framework.throttling import SimpleRateThrottle

        self.settings.REST_FRAMEWORK = self.saved
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


class TransactionLeftOpen:
    """A transaction another thread opens, does `work()` in, and keeps open until close() (or the end of a with
    block). Subclasses say what the work is."""

    what = "transaction"

    def __init__(self, seconds=20):
        import threading

        self.ready, self.release = threading.Event(), threading.Event()
        self.seconds = seconds
        self.thread = threading.Thread(target=self._hold)

    def work(self):
        raise NotImplementedError

    def _hold(self):
        from django.db import connection, transaction

        try:
            with transaction.atomic():
                self.work()
                self.ready.set()
                self.release.wait(self.seconds)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(self.seconds), f"the open {self.what} never started"
        return self

    def close(self):
        self.release.set()
        self.thread.join(self.seconds)
        assert not self.thread.is_alive(), f"the open {self.what} never ended"

    def __exit__(self, *exc):
        self.close()


class SyncWriteLeftOpen(TransactionLeftOpen):
    """A record created in a transaction left open: its change row is written, not committed. `record_id` is
    the record's id once it is written."""

    what = "sync write"

    def __init__(self, actor, data=None, type_="engagement", seconds=20):
        super().__init__(seconds)
        self.actor, self.data, self.type, self.record_id = actor, data or ON_VIEW, type_, None

    def work(self):
        from records.registry import get_spec
        from records.writes import WriteContext, record_create

        self.record_id = record_create(
            spec=get_spec(self.type), ctx=WriteContext(actor=self.actor), data=self.data
        ).instance.pk


class OlderTransactionLeftOpen(TransactionLeftOpen):
    """A transaction with a transaction id, writing nothing the sync engine knows of, left open: while it runs,
    every snapshot's xmax stays at or below its id."""

    what = "older transaction"

    def work(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")


def back_date(model, ids, at, **also):
    """Make records look as if the server had received them at `at`: their received time and every version
    stored so far (the history the closed-period figures are rebuilt from, docs/reports.md)."""
    from records.models import RecordVersion

    model.objects.filter(pk__in=ids).update(server_received_at=at, **also)
    RecordVersion.objects.filter(record_id__in=ids).update(at=at)
