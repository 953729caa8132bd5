"""Thin, idempotent tasks: look up by id, call a service. Acks late; a killed worker's task runs again."""

from celery import shared_task

from sync.services import tombstones_purge

from . import services

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 5,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


@shared_task(name="notifications.email_notification", **RETRY)
def email_notification(notification_id):
    return services.notification_email(notification_id=notification_id)


@shared_task(name="notifications.escalate_follow_up", **RETRY)
def escalate_follow_up(case_id):
    return services.follow_up_escalate(case_id=case_id)


@shared_task(name="notifications.scan_overdue_follow_ups", **RETRY)
def scan_overdue_follow_ups():
    return services.follow_ups_enqueue_overdue()


@shared_task(name="notifications.escalate_contact_rule", **RETRY)
def escalate_contact_rule():
    return services.contact_rule_escalate()


@shared_task(name="notifications.remind_unsubmitted_shifts", **RETRY)
def remind_unsubmitted_shifts():
    return services.shifts_remind_unsubmitted()


@shared_task(name="notifications.escalate_stale_sync", **RETRY)
def escalate_stale_sync():
    return services.sync_escalate_stale()


@shared_task(name="sync.purge_tombstones", **RETRY)
def purge_tombstones():
    return tombstones_purge()
