"""Escalations and reminders. Each is idempotent: the dedupe key says "this person was told this already"."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from backend.errors import NotFound
from incidents.choices import CaseStatus, ContactMode
from incidents.models import FollowUpCase, Shift
from records.models import Conflict
from responders.models import Membership, Role, User
from sync.models import Mutation

from .models import Notification

logger = logging.getLogger(__name__)
ACTIVE_CASE = [CaseStatus.OPEN, CaseStatus.IN_MEDIATION, CaseStatus.TEMPORARILY_RESOLVED]
BATCH = 500


def notification_send(*, recipient, kind, subject, body="", object_type="", object_id="", dedupe_key):
    """Create the notification once; email it after the transaction commits. Returns (notification, created)."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient,
                kind=kind,
                subject=subject[:200],
                body=body,
                object_type=object_type,
                object_id=str(object_id),
                dedupe_key=dedupe_key[:200],
            )
    except IntegrityError:
        return Notification.objects.get(dedupe_key=dedupe_key[:200]), False
    if recipient.email:
        transaction.on_commit(lambda: _enqueue_email(notification.pk))
    return notification, True


def notification_mark_read(*, recipient, notification_id):
    """The recipient has read it (the first reading is kept). Someone else's notification answers not_found."""
    notification = Notification.objects.filter(pk=notification_id, recipient=recipient).first()
    if notification is None:
        raise NotFound("No such notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def _enqueue_email(notification_id):
    """Hand the email to a task that retries until the mail server takes it."""
    from .tasks import email_notification  # noqa: PLC0415 - tasks.py imports this module

    try:
        email_notification.delay(notification_id)
    except Exception:  # noqa: BLE001 - the broker is down: the notification stays unsent (emailed_at null)
        logger.warning("could not queue the email of notification %s", notification_id)


def notification_email(*, notification_id):
    """Email one notification. Marked sent only once the mail server took it; a refusal raises, so the task
    retries (it never reports a failed email as sent). Sending twice is skipped. Returns whether it sent."""
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    if notification.emailed_at is not None or not notification.recipient.email:
        return False
    send_mail(
        notification.subject,
        notification.body,
        settings.DEFAULT_FROM_EMAIL,
        [notification.recipient.email],
        fail_silently=False,
    )
    Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True


def team_members(team_id, program_id, roles):
    """Active people with one of these roles on the team, or program-wide."""
    return [
        m.user
        for m in Membership.objects.filter(
            Q(team_id=team_id) | Q(team__isnull=True),
            program_id=program_id,
            role__in=roles,
            is_active=True,
            user__is_active=True,
        ).select_related("user")
    ]


def follow_up_escalate(*, case_id, today=None):
    """Tell the coordinators (and the assigned interrupter) that a case's next contact is overdue.

    Locks the case so two workers escalating it at once notify once; the dedupe key includes the due date,
    so a case that is rescheduled and goes overdue again escalates again.
    """
    today = today or timezone.localdate()
    sent = 0
    with transaction.atomic():
        case = FollowUpCase.objects.select_for_update().filter(pk=case_id, deleted_at__isnull=True).first()
        if case is None or case.status not in ACTIVE_CASE or not case.next_contact_due:
            return 0
        if case.next_contact_due >= today:
            return 0
        recipients = team_members(case.team_id, case.program_id, [Role.COORDINATOR])
        if case.assigned_to_id and case.assigned_to.is_active:
            recipients.append(case.assigned_to)
        for user in {u.pk: u for u in recipients}.values():
            _, created = notification_send(
                recipient=user,
                kind=Notification.Kind.FOLLOW_UP_OVERDUE,
                subject="A follow-up contact is overdue",
                body=f"Follow-up case {case.pk} was due for contact on {case.next_contact_due}.",
                object_type="follow_up_case",
                object_id=case.pk,
                dedupe_key=f"follow_up_overdue:{case.pk}:{case.next_contact_due}:{user.pk}",
            )
            sent += created
    return sent


def overdue_case_ids(today=None):
    today = today or timezone.localdate()
    return list(
        FollowUpCase.objects.filter(deleted_at__isnull=True, status__in=ACTIVE_CASE, next_contact_due__lt=today)
        .order_by("next_contact_due", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )


def contact_rule_escalate(*, now=None):
    """Cases open six months that never met the rule (>= 3 contacts made, >= 1 in person) go to coordinators."""
    now = now or timezone.now()
    horizon = now - timedelta(days=182)
    cases = (
        FollowUpCase.objects.filter(deleted_at__isnull=True, status__in=ACTIVE_CASE, opened_at__lte=horizon)
        .annotate(
            made=Count(
                "contact_attempts", filter=Q(contact_attempts__made=True, contact_attempts__deleted_at__isnull=True)
            ),
            in_person=Count(
                "contact_attempts",
                filter=Q(
                    contact_attempts__made=True,
                    contact_attempts__mode=ContactMode.IN_PERSON,
                    contact_attempts__deleted_at__isnull=True,
                ),
            ),
        )
        .filter(Q(made__lt=3) | Q(in_person__lt=1))
        .order_by("pk")[:BATCH]
    )
    sent = 0
    for case in cases:
        for user in team_members(case.team_id, case.program_id, [Role.COORDINATOR]):
            sent += notification_send(
                recipient=user,
                kind=Notification.Kind.CONTACT_RULE_MISSED,
                subject="A follow-up case is missing the contact rule",
                body=f"Follow-up case {case.pk}: {case.made} contacts made, {case.in_person} in person in six months.",
                object_type="follow_up_case",
                object_id=case.pk,
                dedupe_key=f"contact_rule_missed:{case.pk}:{user.pk}",
            )[1]
    return sent


def shifts_remind_unsubmitted(*, now=None):
    """Shift logs still open or returned some hours after the shift ended: remind the crew and the supervisors."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.SHIFT_SUBMIT_REMIND_HOURS)
    shifts = Shift.objects.filter(
        deleted_at__isnull=True,
        ended_at__lt=cutoff,
        review_status__in=[Shift.ReviewStatus.OPEN, Shift.ReviewStatus.RETURNED],
    ).order_by("ended_at", "pk")[:BATCH]
    sent = 0
    for shift in shifts:
        crew = list(
            User.objects.filter(
                pk__in=[shift.created_by_id, *[c for c in shift.crew if isinstance(c, int)]], is_active=True
            )
        )
        people = crew + team_members(shift.team_id, shift.program_id, [Role.SUPERVISOR])
        for user in {u.pk: u for u in people}.values():
            sent += notification_send(
                recipient=user,
                kind=Notification.Kind.SHIFT_NOT_SUBMITTED,
                subject=f"Shift log {shift.call_sign} is not submitted",
                body=f"Shift {shift.pk} ended {shift.ended_at:%Y-%m-%d %H:%M} and is still {shift.review_status}.",
                object_type="shift",
                object_id=shift.pk,
                dedupe_key=f"shift_not_submitted:{shift.pk}:{shift.review_status}:{shift.version}:{user.pk}",
            )[1]
    return sent


def sync_escalate_stale(*, now=None):
    """Conflicts and rejected mutations left unresolved too long go to the team's supervisors."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.SYNC_ESCALATE_AFTER_HOURS)
    sent = 0
    for conflict in Conflict.objects.filter(status=Conflict.Status.OPEN, created_at__lt=cutoff).order_by("pk")[:BATCH]:
        for user in team_members(conflict.team_id, conflict.program_id, [Role.SUPERVISOR, Role.PROGRAM_ADMIN]):
            sent += notification_send(
                recipient=user,
                kind=Notification.Kind.CONFLICT_WAITING,
                subject="A sync conflict is waiting",
                body=f"Conflict {conflict.pk} on {conflict.record_type} {conflict.record_id}, field {conflict.field}.",
                object_type="conflict",
                object_id=conflict.pk,
                dedupe_key=f"conflict_waiting:{conflict.pk}:{user.pk}",
            )[1]
    stale = Mutation.objects.filter(
        status=Mutation.Status.REJECTED,
        replayed_as__isnull=True,
        dismissed_at__isnull=True,
        team__isnull=False,
        received_at__lt=cutoff,
    )
    for mutation in stale.order_by("received_at", "pk")[:BATCH]:
        for user in team_members(mutation.team_id, mutation.program_id, [Role.SUPERVISOR, Role.PROGRAM_ADMIN]):
            sent += notification_send(
                recipient=user,
                kind=Notification.Kind.QUARANTINE_WAITING,
                subject="A rejected sync change is waiting",
                body=f"Mutation {mutation.pk} ({mutation.op} {mutation.record_type}) rejected: {mutation.reason_code}.",
                object_type="mutation",
                object_id=mutation.pk,
                dedupe_key=f"quarantine_waiting:{mutation.pk}:{user.pk}",
            )[1]
    return sent


def follow_ups_enqueue_overdue(today=None):
    """Enqueue one escalation task per overdue case, after this transaction commits (none if it rolls back)."""
    from .tasks import escalate_follow_up  # noqa: PLC0415 - tasks.py imports this module

    ids = overdue_case_ids(today)
    for case_id in ids:
        transaction.on_commit(lambda case_id=case_id: escalate_follow_up.delay(str(case_id)))
    return len(ids)
