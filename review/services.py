"""Shift close-out: the crew submits, a supervisor approves (locking the log) or returns it with a comment;
changes to an approved log arrive as amendments a supervisor accepts or declines."""

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from backend.errors import DomainError, StateConflict
from incidents.models import Shift
from notifications.models import Notification
from notifications.services import notification_send
from records.access import access_locked, get_for_write, in_readable_teams, require_reviewer
from records.models import Amendment
from records.registry import get_spec
from records.writes import WriteContext, record_delete, record_set_server_state, record_update
from responders.models import User

from .models import ShiftReview

TRANSITIONS = {
    "submit": ({Shift.ReviewStatus.OPEN, Shift.ReviewStatus.RETURNED}, Shift.ReviewStatus.SUBMITTED),
    "approve": ({Shift.ReviewStatus.SUBMITTED}, Shift.ReviewStatus.APPROVED),
    "return": ({Shift.ReviewStatus.SUBMITTED}, Shift.ReviewStatus.RETURNED),
}
AUDIT = {
    "submit": AuditEvent.Action.SHIFT_SUBMITTED,
    "approve": AuditEvent.Action.SHIFT_APPROVED,
    "return": AuditEvent.Action.SHIFT_RETURNED,
}


def _shift_for(actor, shift_id):
    shifts = Shift.objects.select_for_update(of=("self",)).select_related("program").filter(deleted_at__isnull=True)
    return access_locked(in_readable_teams(shifts, actor), shift_id, missing="No such shift log.")


def _check_step(shift, step, comment):
    """The review state this step leads to, or the refusal: a step the state forbids, a log with no end time
    submitted, a return without a comment."""
    sources, target = TRANSITIONS[step]
    if shift.review_status not in sources:
        verb = {"submit": "submitted", "approve": "approved", "return": "returned"}[step]
        raise StateConflict(
            "invalid_transition",
            f"A shift log that is {shift.review_status} cannot be {verb}.",
            extra={"review_status": shift.review_status},
        )
    if step == "submit" and shift.ended_at is None:
        # The log of a shift still under way is not ready for review (the field app sets the end time first).
        raise StateConflict(
            "shift_not_ended",
            "Enter the shift's end time before submitting the log.",
            fields={"ended_at": [{"code": "required", "message": "The shift has no end time yet."}]},
        )
    if step == "return" and not comment.strip():
        raise DomainError(
            "comment_required",
            "Say what the crew should fix.",
            fields={"comment": [{"code": "required", "message": "A comment is required."}]},
        )
    return target


def _move(actor, shift_id, step, comment="", request=None):
    with transaction.atomic():
        shift = _shift_for(actor, shift_id)  # the crew submits a log of its team; a supervisor decides it
        if step in ("approve", "return"):
            require_reviewer(actor, shift.team_id, "Only a supervisor of this team can review its shift logs.")
        target = _check_step(shift, step, comment)
        now = timezone.now()
        if step == "submit":
            values = {"submitted_at": now, "submitted_by": actor}
        else:
            values = {"reviewed_at": now, "reviewed_by": actor, "review_comment": comment}
        # A new version, so devices learn the review state (and the lock) at their next pull.
        record_set_server_state(
            spec=get_spec("shift"),
            ctx=WriteContext(actor=actor, device=getattr(actor, "current_device", None), request=request),
            instance=shift,
            values={"review_status": target, **values},
            changed=["review_status"],
            now=now,
        )
        audit_record(
            action=AUDIT[step],
            actor=actor,
            device=getattr(actor, "current_device", None),
            obj=shift,
            object_type="shift",
            request=request,
            comment_given=bool(comment),
        )
        ShiftReview.objects.create(shift_id=shift.pk, step=step, actor=actor, comment=comment, at=now)
        if step == "return":
            _notify_return(shift, actor)
    return shift


def _notify_return(shift, actor):
    """Tell the crew their log came back: their inbox, and email where they have an address."""
    crew = User.objects.filter(
        pk__in=[shift.created_by_id, *[c for c in shift.crew if isinstance(c, int)]], is_active=True
    ).exclude(pk=actor.pk)
    for user in crew:
        notification_send(
            recipient=user,
            kind=Notification.Kind.SHIFT_RETURNED,
            subject=f"Shift log {shift.call_sign} was returned",
            # The comment itself stays in the app (it may name people); the message says where to read it.
            body=f"Your supervisor returned the shift log of {shift.started_at:%Y-%m-%d} with a comment. "
            "Open the shift in the field app to read it, fix the log and submit it again.",
            object_type="shift",
            object_id=shift.pk,
            dedupe_key=f"shift_returned:{shift.pk}:{shift.version}:{user.pk}",
        )


def shift_submit(*, actor, shift_id, request=None):
    return _move(actor, shift_id, "submit", request=request)


def shift_approve(*, actor, shift_id, comment="", request=None):
    return _move(actor, shift_id, "approve", comment, request=request)


def shift_return(*, actor, shift_id, comment, request=None):
    return _move(actor, shift_id, "return", comment, request=request)


def amendment_decide(*, actor, amendment_id, accept, comment="", request=None):
    """Accept (apply the change to the locked record, flagged late) or decline an amendment request."""
    with transaction.atomic():
        amendments = in_readable_teams(Amendment.objects.select_for_update(), actor)
        amendment = access_locked(amendments, amendment_id, missing="No such amendment.")
        require_reviewer(actor, amendment.team_id, "Only a supervisor of this team can decide amendments.")
        if amendment.status != Amendment.Status.PENDING:
            raise StateConflict("already_decided", "This amendment was already decided.")
        if accept:
            spec = get_spec(amendment.record_type)
            ctx = WriteContext(
                actor=actor, device=getattr(actor, "current_device", None), request=request, allow_locked=True
            )
            instance = get_for_write(spec, actor, amendment.record_id)
            if amendment.op == "delete":
                record_delete(spec=spec, ctx=ctx, instance=instance)
            else:
                record_update(
                    spec=spec, ctx=ctx, instance=instance, data=amendment.changes, base_version=amendment.base_version
                )
        amendment.status = Amendment.Status.ACCEPTED if accept else Amendment.Status.DECLINED
        amendment.decided_by, amendment.decided_at, amendment.comment = actor, timezone.now(), comment
        amendment.save()
        audit_record(
            action=AuditEvent.Action.AMENDMENT_DECIDED,
            actor=actor,
            program=amendment.program,
            object_type="amendment",
            object_id=amendment.pk,
            request=request,
            accepted=accept,
            record=str(amendment.record_id),
        )
    return amendment
