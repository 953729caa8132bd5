"""Metrics, request ids in the logs, and readiness, as an operator meets them (docs/configuration.md)."""

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from records.models import Conflict
from tests.support import ON_VIEW, mutation, push

TOKEN = "metrics-token-for-tests-0123456789"


def scrape(client=None):
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def parse(text):
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def test_metrics_need_the_token_and_are_off_without_one(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = Client().get("/metrics", **header)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert b"sync_pushes_total" not in response.content


def test_a_real_push_moves_the_push_mutation_and_conflict_counters(field, metrics_on):
    before = scrape()
    a, b = field.api(field.responder), field.api(field.partner)
    created = [mutation(i + 1, fields=ON_VIEW) for i in range(3)]
    response = push(a, *created)
    assert response.status_code == 200
    rid = created[0]["id"]
    assert (
        push(b, mutation(1, "update", record_id=rid, base_version=1, fields={"disposition": "transported"})).json()[
            "results"
        ][0]["status"]
        == "applied"
    )
    clash = push(a, mutation(4, "update", record_id=rid, base_version=1, fields={"disposition": "declined_services"}))
    assert clash.json()["results"][0]["status"] == "conflict"
    rejected = push(a, mutation(5, fields={"origin": "not-an-origin"}))
    assert rejected.json()["results"][0]["status"] == "rejected"
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sync_pushes_total", api="sync", outcome="ok") == 4
    assert moved("sync_mutations_total", api="sync", status="applied") == 4
    assert moved("sync_mutations_total", api="sync", status="conflict") == 1
    assert moved("sync_mutations_total", api="sync", status="rejected") == 1
    assert moved("sync_conflicts_opened_total") == Conflict.objects.count() >= 1
    assert moved("sync_quarantine_size", status="rejected") == 1
    assert value(after, "sync_state_up") == 1
    # django-prometheus's request metrics are there too.
    assert any(name == "django_http_requests_total_by_method_total" for name, _ in after)


def test_a_push_turned_away_counts_as_an_admission_refusal(field, metrics_on, settings):
    from tests.sync.test_admission import another_push_holding_the_slot

    settings.SYNC_PUSH_CONCURRENCY, settings.SYNC_PUSH_QUEUE_SECONDS = 1, 0.1
    before = scrape()
    with another_push_holding_the_slot():
        response = push(field.api(field.responder), mutation(1, fields=ON_VIEW))
    assert response.status_code == 503 and response["Retry-After"]
    after = scrape()
    assert value(after, "sync_admission_refusals_total") - value(before, "sync_admission_refusals_total") == 1
    assert (
        value(after, "sync_pushes_total", api="sync", outcome="server_busy")
        - value(before, "sync_pushes_total", api="sync", outcome="server_busy")
        == 1
    )


def test_pull_pages_and_resolved_conflicts_are_counted(field, metrics_on):
    api = field.api(field.responder)
    push(api, mutation(1, fields=ON_VIEW))
    before = scrape()
    assert api.get("/api/v1/sync/pull", {"protocol": 1}).status_code == 200
    after = scrape()
    moved = (
        value(after, "sync_pulls_total", api="sync", outcome="ok")
        + value(after, "sync_pulls_total", api="sync", outcome="behind")
        - value(before, "sync_pulls_total", api="sync", outcome="ok")
        - value(before, "sync_pulls_total", api="sync", outcome="behind")
    )
    assert moved == 1


def test_celery_task_outcomes_are_counted(db, metrics_on):
    from notifications.tasks import purge_tombstones

    before = scrape()
    purge_tombstones.apply()
    after = scrape()
    name = purge_tombstones.name
    assert (
        value(after, "celery_tasks_total", task=name, outcome="success")
        - value(before, "celery_tasks_total", task=name, outcome="success")
        == 1
    )


# --- request ids in structured logs ----------------------------------------------------------------------------


def console_lines(call):
    """What the configured console handler writes while `call` runs, one parsed JSON object a line."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        call()
    finally:
        handler.setStream(old)
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_id_is_taken_from_the_header_and_in_every_log_line(db):
    assert settings.LOG_FORMAT == "json"
    given = str(uuid.uuid4())
    responses = []
    lines = console_lines(lambda: responses.append(Client().get("/healthz", HTTP_X_REQUEST_ID=given)))
    assert responses[0]["X-Request-ID"] == given
    access = [line for line in lines if line.get("logger") == "backend.access"]
    assert access and access[0]["request_id"] == given
    assert access[0]["path"] == "/healthz" and access[0]["status"] == 200
    assert {"time", "level", "message"} <= set(access[0])


def test_a_request_without_a_usable_id_gets_a_new_one(db):
    for header in ({}, {"HTTP_X_REQUEST_ID": "x\n{injected}"}):
        responses = []
        lines = console_lines(lambda h=header, out=responses: out.append(Client().get("/healthz", **h)))
        rid = responses[0]["X-Request-ID"]
        assert uuid.UUID(rid) and "injected" not in rid
        assert [line["request_id"] for line in lines if line.get("logger") == "backend.access"] == [rid]


def test_secrets_stay_out_of_json_logs(db):
    lines = console_lines(lambda: logging.getLogger("tests").warning("login with password=%s", "hunter2-secret"))
    assert lines and "hunter2-secret" not in json.dumps(lines)


# --- readiness -----------------------------------------------------------------------------------------------------


def test_readyz_is_ready_when_database_broker_and_migrations_are(db):
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "migrations": "ok"}}
    assert Client().get("/healthz").status_code == 200


def test_readyz_fails_with_a_reason_when_the_broker_is_unreachable(db, settings):
    with socket_closed_port() as port:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        settings.READYZ_BROKER_TIMEOUT = 1
        response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"].startswith("down")
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"


def test_readyz_fails_with_a_reason_when_a_migration_is_unapplied(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'sync' AND name = "
            "(SELECT max(name) FROM django_migrations WHERE app = 'sync') RETURNING name"
        )
        (name,) = cursor.fetchone()
    response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["migrations"].startswith("1 unapplied") and f"sync.{name}" in checks["migrations"]
    assert checks["database"] == "ok"


class socket_closed_port:  # noqa: N801 - a context manager
    """A local port nothing listens on."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


# --- several worker processes -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_report_one_sum(tmp_path):
    """Under gunicorn with two worker processes (deploy/gunicorn.conf.py), /metrics adds up both workers' counts,
    whichever worker answers the scrape."""
    from tests.security.test_rate_limits import _free_port

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"],
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.wsgi",
            "-c",
            "deploy/gunicorn.conf.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).read()  # noqa: S310
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)

        def healthz(_):
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30).status  # noqa: S310

        # Eight at a time: a sync worker busy with one request leaves the next to the other worker.
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(healthz, range(40))) == [200] * 40
        served = {p.name.rsplit("_", 1)[-1] for p in (tmp_path / "metrics").glob("counter_*.db")}
        request = urllib.request.Request(  # noqa: S310
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        values = parse(urllib.request.urlopen(request, timeout=10).read().decode())  # noqa: S310
        counted = sum(
            v
            for (name, labels), v in values.items()
            if name == "django_http_responses_total_by_status_view_method_total"
            and dict(labels).get("view") == "healthz"
            and dict(labels).get("status") == "200"
        )
        assert counted == 40
        assert len(served) == 2, served  # both processes counted some of them
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.worker
def test_a_task_queued_by_a_request_logs_that_request_id_in_the_worker(transactional_db):
    """django-guid carries the id in the task's headers; the real worker logs JSON lines with it."""
    from django_guid import clear_guid, set_guid

    from responders.tasks import purge_login_failures
    from tests.notifications.test_jobs import Worker, _broker, wait_for

    _broker().delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    w = Worker("request-id")
    try:
        given = uuid.uuid4().hex
        set_guid(given)
        try:
            purge_login_failures.delay()
        finally:
            clear_guid()

        def task_line():
            for line in list(w.lines):
                if line.startswith("{") and "succeeded" in line:
                    return json.loads(line)
            return None

        assert wait_for(task_line, 120), "".join(w.lines[-20:])
        assert task_line()["request_id"] == given
    finally:
        w.stop()
        _broker().delete(settings.CELERY_TASK_DEFAULT_QUEUE)
