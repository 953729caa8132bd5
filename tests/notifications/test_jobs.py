"""Scheduled jobs through a real Celery worker on the real Redis broker."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.celery import app as celery_app
from incidents.models import FollowUpCase, Shift
from notifications import services, tasks
from notifications.models import Notification
from records.registry import get_spec
from records.writes import WriteContext, record_create

pytestmark = pytest.mark.worker


def _broker():
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


class Worker:
    """A real `celery worker` process on this test database and this process's queue."""

    def __init__(self, name):
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DJANGO_SETTINGS_MODULE": "backend.settings",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backend",
                "worker",
                "--pool=solo",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=settings.BASE_DIR,
        )
        self.lines = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(30), "worker did not start:\n" + "".join(self.lines[-30:])

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker(transactional_db):
    _broker().delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    started = []

    def start(name="w1"):
        w = Worker(name)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
    _broker().delete(settings.CELERY_TASK_DEFAULT_QUEUE)


def wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def overdue_case(field, days=2):
    case = record_create(
        spec=get_spec("follow_up_case"),
        ctx=WriteContext(actor=field.interrupter, audit=False),
        data={
            "status": "open",
            "assigned_to": field.interrupter.pk,
            "next_contact_due": (timezone.localdate() - timedelta(days=days)).isoformat(),
        },
        team_id=field.team_d.pk,
    ).instance
    return case


def test_overdue_follow_up_escalates_once_through_the_worker(tfield, worker):
    case = overdue_case(tfield)
    worker()
    tasks.scan_overdue_follow_ups.delay()
    expected = {tfield.coordinator.pk, tfield.interrupter.pk}
    assert wait_for(lambda: set(Notification.objects.values_list("recipient", flat=True)) == expected)
    tasks.scan_overdue_follow_ups.delay()  # the next tick finds it still overdue: nobody is told twice
    tasks.escalate_follow_up.delay(str(case.pk))
    time.sleep(3)
    assert Notification.objects.filter(kind="follow_up_overdue", object_id=str(case.pk)).count() == 2


def test_duplicate_delivery_notifies_once(tfield, worker):
    case = overdue_case(tfield)
    for _ in range(3):
        tasks.escalate_follow_up.delay(str(case.pk))
    worker()
    assert wait_for(lambda: _broker().llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 0)
    time.sleep(2)
    assert Notification.objects.filter(object_id=str(case.pk)).count() == 2


def test_rolled_back_transaction_enqueues_nothing(tfield, worker):
    overdue_case(tfield)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.follow_ups_enqueue_overdue() == 1
        raise RuntimeError("the request failed")
    assert _broker().llen(queue) == 0
    with transaction.atomic():
        services.follow_ups_enqueue_overdue()
        assert _broker().llen(queue) == 0  # not before the commit
    assert _broker().llen(queue) == 1


def test_worker_killed_mid_task_runs_it_again_with_one_effect(tfield, worker):
    case = overdue_case(tfield)
    locked, release = threading.Event(), threading.Event()

    def hold_the_case():  # keeps the escalation blocked on the case's row lock
        try:
            with transaction.atomic():
                FollowUpCase.objects.select_for_update().get(pk=case.pk)
                locked.set()
                release.wait(60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_case)
    holder.start()
    assert locked.wait(10)
    first = worker("first")
    tasks.escalate_follow_up.delay(str(case.pk))
    assert wait_for(lambda: any("escalate_follow_up" in line and "received" in line for line in first.lines), 20)
    time.sleep(1)
    first.kill()  # SIGKILL while the task waits inside its transaction
    release.set()
    holder.join()
    assert Notification.objects.count() == 0
    worker("second")
    assert wait_for(lambda: Notification.objects.filter(object_id=str(case.pk)).count() == 2, 40)
    time.sleep(4)  # past another visibility timeout: it does not run a third time with effect
    assert Notification.objects.filter(object_id=str(case.pk)).count() == 2


def test_shift_reminder_stale_sync_and_purge_run_through_the_worker(tfield, worker, settings):
    ended = timezone.now() - timedelta(hours=settings.SHIFT_SUBMIT_REMIND_HOURS + 1)
    shift = record_create(
        spec=get_spec("shift"),
        ctx=WriteContext(actor=tfield.responder, audit=False),
        data={
            "call_sign": "M-31",
            "started_at": (ended - timedelta(hours=9)).isoformat(),
            "ended_at": ended.isoformat(),
            "crew": [tfield.partner.pk],
        },
        team_id=tfield.team_a.pk,
    ).instance
    worker()
    tasks.remind_unsubmitted_shifts.delay()
    expected = {tfield.responder.pk, tfield.partner.pk, tfield.supervisor.pk, tfield.program_supervisor.pk}
    assert wait_for(
        lambda: (
            set(Notification.objects.filter(kind="shift_not_submitted").values_list("recipient", flat=True)) == expected
        )
    )
    Shift.objects.filter(pk=shift.pk).update(review_status=Shift.ReviewStatus.SUBMITTED)
    tasks.purge_tombstones.delay()
    tasks.escalate_stale_sync.delay()
    assert wait_for(lambda: _broker().llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 0)


def test_each_job_is_on_the_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        "notifications.scan_overdue_follow_ups",
        "notifications.escalate_contact_rule",
        "notifications.remind_unsubmitted_shifts",
        "notifications.escalate_stale_sync",
        "sync.purge_tombstones",
        "responders.purge_login_failures",
    }
    celery_app.loader.import_default_modules()
    assert scheduled <= set(celery_app.tasks)
    for name in scheduled:
        task = celery_app.tasks[name]
        assert task.acks_late and task.reject_on_worker_lost


def test_contact_rule_and_stale_sync_escalations(field):
    case = overdue_case(field, days=0)
    FollowUpCase.objects.filter(pk=case.pk).update(opened_at=timezone.now() - timedelta(days=200))
    assert services.contact_rule_escalate() == 1  # the coordinator
    assert services.contact_rule_escalate() == 0
    from records.models import Conflict

    Conflict.objects.create(
        record_type="engagement",
        record_id=case.pk,
        program=field.macro,
        team=field.team_a,
        field="disposition",
        policy="scalar",
        server_version=2,
        incoming_author=field.responder,
        created_at=timezone.now() - timedelta(days=3),
    )
    assert services.sync_escalate_stale() == 2  # the team supervisor and the program-wide one
    assert services.sync_escalate_stale() == 0
    assert set(Notification.objects.filter(kind="conflict_waiting").values_list("recipient", flat=True)) == {
        field.supervisor.pk,
        field.program_supervisor.pk,
    }


def test_inbox_is_personal(field):
    overdue = overdue_case(field)
    services.follow_up_escalate(case_id=overdue.pk)
    mine = field.api(field.coordinator).get("/api/v1/notifications").json()["results"]
    assert [n["object_id"] for n in mine] == [str(overdue.pk)]
    assert field.api(field.responder).get("/api/v1/notifications").json()["results"] == []
    other = field.api(field.responder).post(f"/api/v1/notifications/{mine[0]['id']}/read")
    assert other.status_code == 404
    read = field.api(field.coordinator).post(f"/api/v1/notifications/{mine[0]['id']}/read")
    assert read.status_code == 200 and read.json()["read_at"]
