"""Sync metrics (backend/metrics.py serves them): what pushes and pulls answered, counted where the views answer,
and the sync state the database holds, read at scrape time. docs/configuration.md, "Metrics", lists them."""

from typing import Any

from django.db.models import Count, Q
from prometheus_client import Counter

from records.changes import is_postgres
from records.models import Conflict

from .changes import horizon
from .models import Mutation

PUSHES = Counter(
    "sync_pushes_total",
    "Pushes answered, by client protocol (sync, watermelon) and outcome (ok, or the error code).",
    ["api", "outcome"],
)
MUTATIONS = Counter(
    "sync_mutations_total",
    "Mutations answered in pushes, by status (applied, unchanged, merged, conflict, amendment, rejected, pending).",
    ["api", "status"],
)
ADMISSION_REFUSALS = Counter(
    "sync_admission_refusals_total",
    "Pushes turned away with 503 server_busy and Retry-After because this process's push slots were taken.",
)
PULLS = Counter(
    "sync_pulls_total",
    "Pull pages answered, by client protocol and outcome (ok, behind: held back by a sync write still open).",
    ["api", "outcome"],
)
PULLED = Counter("sync_pulled_changes_total", "Changes sent in pull pages.", ["api"])


def push_answered(api: str, results: list[dict[str, Any]]) -> None:
    """A push answered 200: one per push, and its mutations by status."""
    PUSHES.labels(api, "ok").inc()
    counts: dict[str, int] = {}
    for result in results:
        status = result.get("status", "unknown")
        counts[status] = counts.get(status, 0) + 1
    for status, n in counts.items():
        MUTATIONS.labels(api, status).inc(n)


def push_refused(api: str, code: str | None) -> None:
    """A push answered with an error (nothing of it applied): its code, and an admission refusal counted apart."""
    PUSHES.labels(api, code or "error").inc()
    if code == "server_busy":
        ADMISSION_REFUSALS.inc()


def pull_answered(api: str, changes: int, behind: bool = False) -> None:
    PULLS.labels(api, "behind" if behind else "ok").inc()
    PULLED.labels(api).inc(changes)


def database_state() -> dict[str, Any]:
    """Quarantine size by status, conflicts opened and resolved (never deleted, so these only grow), and the pull
    horizon's lag (the age of the oldest sync write still open that holds pulls back)."""
    quarantine = dict.fromkeys([Mutation.Status.REJECTED.value, Mutation.Status.PENDING.value], 0)
    waiting = Mutation.objects.filter(
        status__in=list(quarantine), replayed_as__isnull=True, dismissed_at__isnull=True
    ).order_by()
    for status, count in waiting.values_list("status").annotate(n=Count("id")).values_list("status", "n"):
        quarantine[status] = count
    conflicts = Conflict.objects.order_by().aggregate(
        opened=Count("id"), resolved=Count("id", filter=Q(status=Conflict.Status.RESOLVED))
    )
    return {
        "quarantine": quarantine,
        "conflicts_opened": conflicts["opened"],
        "conflicts_resolved": conflicts["resolved"],
        "horizon_lag_seconds": (horizon().held_by or 0.0) if is_postgres() else 0.0,
    }
