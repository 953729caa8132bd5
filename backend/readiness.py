"""GET /readyz: whether this instance should be sent traffic. /healthz (liveness) asks only the database.

Ready means: the database answers, the Celery broker accepts a connection, and no migration of this code is
unapplied (a new release started before `migrate` ran). 200 with each check "ok", or 503 with the reason of each
that failed. Public like /healthz: it says nothing but ok or why not.
"""

import logging

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

from backend.celery import app

logger = logging.getLogger(__name__)


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker():
    timeout = settings.READYZ_BROKER_TIMEOUT
    with app.connection_for_write(url=settings.CELERY_BROKER_URL, connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)


def _migrations():
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        raise NotReady(f"{len(names)} unapplied: " + ", ".join(names[:5]) + (", …" if len(names) > 5 else ""))


class NotReady(Exception):
    pass


CHECKS = (("database", _database), ("broker", _broker), ("migrations", _migrations))


def readyz(request):
    checks, ready = {}, True
    for name, check in CHECKS:
        if name == "migrations" and checks["database"] != "ok":
            checks[name] = "unknown: the database does not answer"
            continue
        try:
            check()
        except NotReady as exc:
            checks[name], ready = str(exc), False
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency means not ready, with its reason
            logger.warning("readyz: %s is not ready: %s", name, exc.__class__.__name__)
            checks[name], ready = f"down: {exc.__class__.__name__}", False
        else:
            checks[name] = "ok"
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    response = JsonResponse(body, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    return response
