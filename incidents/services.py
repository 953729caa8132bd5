"""Named services per record type: `engagement_create`, `scene_response_update`, `incident_delete`, ...

They are thin: each calls the generic write path in records.writes with the
type's spec, so the REST API, sync, demo data and commands share one
implementation of validation, merging, versioning and audit.
"""

from django.db import transaction

from records.access import get_for_write
from records.registry import get_spec
from records.writes import WriteContext, record_create, record_delete, record_update


def _services_for(type_name):
    def create(*, actor, data, device=None, record_id=None, team_id=None, request=None):
        return record_create(
            spec=get_spec(type_name),
            ctx=WriteContext(actor=actor, device=device, request=request),
            data=data,
            record_id=record_id,
            team_id=team_id,
        )

    def update(*, actor, record_id, data, base_version=None, device=None, request=None):
        spec = get_spec(type_name)
        with transaction.atomic():
            instance = get_for_write(spec, actor, record_id)
            return record_update(
                spec=spec,
                ctx=WriteContext(actor=actor, device=device, request=request),
                instance=instance,
                data=data,
                base_version=base_version,
            )

    def delete(*, actor, record_id, base_version=None, device=None, request=None):
        spec = get_spec(type_name)
        with transaction.atomic():
            instance = get_for_write(spec, actor, record_id)
            return record_delete(
                spec=spec,
                ctx=WriteContext(actor=actor, device=device, request=request),
                instance=instance,
                base_version=base_version,
            )

    for fn, verb in ((create, "create"), (update, "update"), (delete, "delete")):
        fn.__name__ = fn.__qualname__ = f"{type_name}_{verb}"
        fn.__doc__ = f"{verb.title()} a {type_name.replace('_', ' ')} (see records.writes.record_{verb})."
    return create, update, delete


engagement_create, engagement_update, engagement_delete = _services_for("engagement")
incident_create, incident_update, incident_delete = _services_for("incident")
scene_response_create, scene_response_update, scene_response_delete = _services_for("scene_response")
follow_up_case_create, follow_up_case_update, follow_up_case_delete = _services_for("follow_up_case")
contact_attempt_create, contact_attempt_update, contact_attempt_delete = _services_for("contact_attempt")
shift_create, shift_update, shift_delete = _services_for("shift")
