"""Prometheus metrics: the scrape endpoint, Celery task outcomes, and the sync state read from the database.

Counters live in each process (prometheus_client). Under gunicorn with several workers, each worker is a process
of its own: with PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py), every process writes its values to files
in that folder and a scrape adds them up, whichever worker answers it. Values that are the database's (quarantine
size, conflicts, the pull horizon) are read from it at scrape time, so every instance reports the same figure.

The endpoint is not public: `GET /metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`, and not at all
(404) while METRICS_TOKEN is unset (docs/configuration.md, "Metrics").
"""

import hmac
import logging
import os
from collections.abc import Callable
from typing import Any

from celery import signals
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .errors import error_body

logger = logging.getLogger(__name__)

RECORD_INPUT_VALIDATIONS = Counter(
    "record_input_validations_total",
    "Record values validated, by path: compiled (records/validation.py) or serializer (the DRF input serializer:"
    " a value or rule the compiled validator leaves to it, and every rejection).",
    ["path"],
)
CELERY_TASKS = Counter("celery_tasks_total", "Celery tasks finished, by task name and outcome.", ["task", "outcome"])


# What the database holds about sync, read at each scrape: set by the sync app when it is ready (sync/apps.py), so
# backend imports no app above it. A callable returning sync.metrics.database_state()'s dict.
database_state: Callable[[], dict[str, Any]] | None = None


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class DatabaseStateCollector:
    """Figures the database holds, read at scrape time (the same on every instance)."""

    def collect(self):
        try:
            if database_state is None:
                raise RuntimeError("no sync state reader is registered")
            state = database_state()
        except Exception:  # noqa: BLE001 - a scrape must still answer the process counters when the database is down
            logger.warning("metrics: the database state could not be read", exc_info=True)
            up = GaugeMetricFamily("sync_state_up", "1 when the sync state below was read from the database.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("sync_state_up", "1 when the sync state below was read from the database.")
        up.add_metric([], 1)
        yield up
        quarantine = GaugeMetricFamily(
            "sync_quarantine_size",
            "Mutations in quarantine (rejected, or waiting for a gap) not yet replayed or dismissed.",
            labels=["status"],
        )
        for status, count in state["quarantine"].items():
            quarantine.add_metric([status], count)
        yield quarantine
        opened = CounterMetricFamily("sync_conflicts_opened", "Conflicts ever kept for review (database count).")
        opened.add_metric([], state["conflicts_opened"])
        yield opened
        resolved = CounterMetricFamily("sync_conflicts_resolved", "Conflicts resolved by a person (database count).")
        resolved.add_metric([], state["conflicts_resolved"])
        yield resolved
        lag = GaugeMetricFamily(
            "sync_pull_horizon_lag_seconds",
            "Age of the oldest sync write still open that holds pulls back (0 when none does).",
        )
        lag.add_metric([], state["horizon_lag_seconds"])
        yield lag


_DATABASE_STATE = CollectorRegistry(auto_describe=False)
_DATABASE_STATE.register(DatabaseStateCollector())


def exposition():
    """The text a scrape gets: every process's counters, then the database state."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_DATABASE_STATE)


def metrics_view(request):
    """GET /metrics for Prometheus, with the bearer token of METRICS_TOKEN; 404 while none is set."""
    token = settings.METRICS_TOKEN
    if not token:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = JsonResponse(
            error_body("not_authenticated", "The metrics need the metrics bearer token."), status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method != "GET":
        return JsonResponse(error_body("method_not_allowed", "Use GET."), status=405)
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


# --- Celery task outcomes (every process that runs tasks: a worker, or a request running one eagerly) ----------


def _task_name(sender=None, task=None, **_):
    return getattr(task or sender, "name", None) or str(sender)


def connect_celery_signals():
    def success(sender=None, **kwargs):
        CELERY_TASKS.labels(_task_name(sender), "success").inc()

    def failure(sender=None, **kwargs):
        CELERY_TASKS.labels(_task_name(sender), "failure").inc()

    def retry(sender=None, request=None, **kwargs):
        CELERY_TASKS.labels(getattr(request, "task", None) or _task_name(sender), "retry").inc()

    def rejected(sender=None, request=None, **kwargs):
        CELERY_TASKS.labels(getattr(request, "task_name", None) or _task_name(sender), "revoked").inc()

    signals.task_success.connect(success, weak=False, dispatch_uid="metrics-task-success")
    signals.task_failure.connect(failure, weak=False, dispatch_uid="metrics-task-failure")
    signals.task_retry.connect(retry, weak=False, dispatch_uid="metrics-task-retry")
    signals.task_revoked.connect(rejected, weak=False, dispatch_uid="metrics-task-revoked")


connect_celery_signals()
