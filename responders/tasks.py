"""Scheduled upkeep of sign-in data. Idempotent."""

from celery import shared_task

from . import services


@shared_task(name="responders.purge_login_failures", acks_late=True, reject_on_worker_lost=True)
def purge_login_failures():
    return services.login_failures_purge()
