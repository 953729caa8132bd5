from backend.network import client_address

from .models import AuditEvent


def client_ip(request):
    """The same address the rate limits use (backend/network.py): the client's, not the proxy's."""
    return client_address(request)


def audit_record(**kwargs):
    """Append one event. Call inside the transaction of the act it records, so both land or neither does."""
    event = audit_event(**kwargs)
    event.save()
    return event


def audit_event(
    *, action, actor=None, device=None, program=None, obj=None, object_type="", object_id="", request=None, **detail
):
    """One event, not yet saved: for callers that append many at once (audit_many), such as a sync push."""
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
        program = program if program is not None else getattr(obj, "program", None)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent(
        action=action,
        actor=actor,
        device=device,
        program=program,
        object_type=object_type,
        object_id=str(object_id),
        ip=client_ip(request),
        detail=detail,
    )


def audit_many(events):
    """Append several events in one statement (list reads of DVP records)."""
    return AuditEvent.objects.bulk_create(events)
