"""REST endpoints for every record type, built once from the record registry.

One thin view set per type: input is parsed by the type's input serializer
(inside records.writes), every write goes through records.writes services, every
read through the scoped queryset, and records leave as `to_wire` (the same
representation sync pull uses). Objects outside the caller's scope are 404.
"""

import uuid

import django_filters
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from audit.models import AuditEvent
from audit.services import audit_many, client_ip
from backend.drf_internals import field_init_kwargs
from backend.errors import DomainError, Forbidden
from backend.filters import BoundedIsoDateTimeFilter
from records.access import get_for_write, scoped_queryset
from records.registry import RecordSpec, ordered_specs
from records.wire import to_wire
from records.writes import WriteContext, id_taken_error, record_create, record_delete, record_move, record_update
from responders import selectors

ERROR = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.DictField())),
    },
)
META_FIELDS = {
    "type": serializers.CharField(),
    "id": serializers.UUIDField(),
    "version": serializers.IntegerField(),
    "program": serializers.CharField(),
    "team": serializers.IntegerField(),
    "deleted": serializers.BooleanField(),
    "created_by": serializers.IntegerField(),
    "updated_by": serializers.IntegerField(allow_null=True),
    "created_on_device": serializers.UUIDField(allow_null=True),
    "app_version": serializers.CharField(),
    "form_version": serializers.CharField(),
    "device_created_at": serializers.DateTimeField(allow_null=True),
    "device_updated_at": serializers.DateTimeField(allow_null=True),
    "server_received_at": serializers.DateTimeField(),
    "server_updated_at": serializers.DateTimeField(),
    "is_late": serializers.BooleanField(),
}


def _schema_serializers(spec):
    """Request and response schemas for the docs, from the same input serializer the services use."""
    name = "".join(part.title() for part in spec.name.split("_"))

    def with_fields(base, suffix, extra, read_only=False):
        attrs = {
            k: type(f)(**{**field_init_kwargs(f), "read_only": read_only} if read_only else field_init_kwargs(f))
            for k, f in base().fields.items()
        }
        attrs.update(extra)
        return type(f"{name}{suffix}", (serializers.Serializer,), attrs)

    create = with_fields(
        spec.input_serializer,
        "Create",
        {
            "id": serializers.UUIDField(
                required=False, help_text="Client-generated UUID (made by the server if absent)."
            ),
            "team": serializers.IntegerField(required=False, help_text="Team id, when you belong to several."),
        },
    )
    update = with_fields(
        spec.input_serializer,
        "Update",
        {
            "base_version": serializers.IntegerField(
                required=False, min_value=1, help_text="The version your edit is based on (enables merging)."
            ),
        },
    )
    output = type(
        f"{name}",
        (serializers.Serializer,),
        {
            **{k: serializers.JSONField(read_only=True) for k in spec.policies},
            **META_FIELDS,
            **{k: serializers.JSONField(read_only=True) for k in spec.read_only},
        },
    )
    write_result = inline_serializer(
        f"{name}WriteResult",
        {
            "status": serializers.ChoiceField(choices=["applied", "unchanged", "merged", "conflict", "amendment"]),
            "version": serializers.IntegerField(),
            "merged_fields": serializers.ListField(child=serializers.CharField()),
            "conflicts": serializers.ListField(child=serializers.DictField()),
            "amendment_id": serializers.UUIDField(allow_null=True),
            "record": output(),
        },
    )
    return create, update, output, write_result


def _filterset(spec):
    model = spec.model
    choice_fields = [f.name for f in model._meta.fields if f.choices and f.name in spec.policies]
    attrs = {
        "updated_since": BoundedIsoDateTimeFilter(field_name="server_updated_at", lookup_expr="gte"),
        "received_since": BoundedIsoDateTimeFilter(field_name="server_received_at", lookup_expr="gte"),
        "received_before": BoundedIsoDateTimeFilter(field_name="server_received_at", lookup_expr="lt"),
        "Meta": type("Meta", (), {"model": model, "fields": ["team", *choice_fields, "is_late"]}),
    }
    if "shift" in spec.policies:
        attrs["shift"] = django_filters.UUIDFilter(field_name="shift_id")
    return type(f"{model.__name__}Filter", (django_filters.FilterSet,), attrs)


class RecordViewSet(viewsets.GenericViewSet):
    """The REST API of one record type (`record_spec`); build_viewset makes one subclass per type."""

    record_spec: RecordSpec
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        spec = self.record_spec
        if not selectors.readable_team_ids(request.user, program_codes=spec.programs):
            raise Forbidden(f"Your roles give no access to {spec.name.replace('_', ' ')} records.")

    def get_queryset(self):
        include = self.request.query_params.get("include_deleted") in ("1", "true", "True")
        return (
            scoped_queryset(self.record_spec, self.request.user, include_deleted=include)
            .select_related("program")
            .order_by("-server_received_at", "id")
        )

    def _ctx(self):
        request = self.request
        return WriteContext(
            actor=request.user,
            device=getattr(request, "device", None),
            request=request,
            app_version=(getattr(request, "device", None) and request.device.app_version) or "",
        )

    def _audit_read(self, records, action):
        dvp = [r for r in records if r.program.code == "DVP"]
        if not dvp:
            return
        device, ip = getattr(self.request, "device", None), client_ip(self.request)
        audit_many(
            [
                AuditEvent(
                    action=action,
                    actor=self.request.user,
                    device=device,
                    program_id=r.program_id,
                    object_type=self.record_spec.name,
                    object_id=str(r.pk),
                    ip=ip,
                )
                for r in dvp
            ]
        )

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._audit_read(page, AuditEvent.Action.RECORD_LIST)
        return self.get_paginated_response([to_wire(self.record_spec, r, request.user) for r in page])

    def retrieve(self, request, pk=None):
        record = self.get_object()
        self._audit_read([record], AuditEvent.Action.RECORD_READ)
        return Response(to_wire(self.record_spec, record, request.user))

    def create(self, request):
        spec = self.record_spec
        data = _body(request)
        record_id, team = data.pop("id", None), data.pop("team", None)
        record_id = _uuid_or_400(record_id, "id")
        if team is not None:
            _team_id_or_400(team, "wrong_type")
        try:
            result = record_create(spec=spec, ctx=self._ctx(), data=data, record_id=record_id, team_id=team)
        except IntegrityError:
            # Another request took this id (or a unique value) after the checks: the same answers as if
            # it had been first (record_exists / id_unavailable), else the generic 409.
            taken = id_taken_error(spec, request.user, record_id) if record_id is not None else None
            if taken is not None:
                raise taken from None
            raise
        return Response(to_wire(spec, result.instance, request.user), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        spec = self.record_spec
        data = _body(request)
        base = data.pop("base_version", None)
        if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 1):
            raise DomainError(
                "validation_error",
                "Some fields are not valid.",
                fields={"base_version": [{"code": "wrong_type", "message": "A positive integer."}]},
            )
        with transaction.atomic():
            record = get_for_write(spec, request.user, pk)
            result = record_update(spec=spec, ctx=self._ctx(), instance=record, data=data, base_version=base)
        return Response(_write_body(spec, result, request.user))

    def destroy(self, request, pk=None):
        spec = self.record_spec
        base = request.query_params.get("base_version")
        try:
            base = int(base) if base not in (None, "") else None
        except ValueError:
            raise DomainError("validation_error", "base_version must be an integer.") from None
        with transaction.atomic():
            record = get_for_write(spec, request.user, pk)
            result = record_delete(spec=spec, ctx=self._ctx(), instance=record, base_version=base)
        return Response(_write_body(spec, result, request.user))

    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Reassign to another team of the program (supervisors and program admins)."""
        spec = self.record_spec
        team = _team_id_or_400(_body(request).get("team"), "required")
        with transaction.atomic():
            record = get_for_write(spec, request.user, pk)
            result = record_move(spec=spec, ctx=self._ctx(), instance=record, team_id=team)
        return Response(to_wire(spec, result.instance, request.user))


def _team_id_or_400(team, code):
    if not isinstance(team, int) or isinstance(team, bool):
        raise DomainError(
            "validation_error",
            "Some fields are not valid.",
            fields={"team": [{"code": code, "message": "A team id."}]},
        )
    return team


def build_viewset(spec):
    """RecordViewSet for one record type, with its filters and the API schema of its requests and answers."""
    create_s, update_s, output_s, write_s = _schema_serializers(spec)
    errors = {400: ERROR, 403: ERROR, 404: ERROR}
    include_deleted = OpenApiParameter("include_deleted", bool, description="Also list deleted records (tombstones).")
    base_version = OpenApiParameter("base_version", int, description="The version the delete is based on.")
    name = f"{spec.model.__name__}ViewSet"
    viewset = type(
        name,
        (RecordViewSet,),
        {
            "record_spec": spec,
            "filterset_class": _filterset(spec),
            "serializer_class": output_s,
            "__qualname__": name,
            "__module__": __name__,
            "__doc__": f"{spec.model.__doc__ or spec.name} (program: {', '.join(sorted(spec.programs))})",
        },
    )
    return extend_schema_view(
        list=extend_schema(parameters=[include_deleted], responses={200: output_s(many=True), 403: ERROR}),
        retrieve=extend_schema(responses={200: output_s, **errors}),
        create=extend_schema(request=create_s, responses={201: output_s, 409: ERROR, **errors}),
        partial_update=extend_schema(request=update_s, responses={200: write_s, 409: ERROR, **errors}),
        destroy=extend_schema(parameters=[base_version], responses={200: write_s, 409: ERROR, **errors}),
        move=extend_schema(
            request=inline_serializer(f"{spec.name}Move", {"team": serializers.IntegerField()}),
            responses={200: output_s, **errors},
        ),
    )(viewset)


def _body(request):
    if not isinstance(request.data, dict):
        raise DomainError("malformed_request", "The body must be a JSON object.")
    return dict(request.data)


def _uuid_or_400(value, name):
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError(
            "validation_error",
            "Some fields are not valid.",
            fields={name: [{"code": "invalid", "message": "Must be a UUID."}]},
        ) from None


def _write_body(spec, result, user):
    return {
        "status": result.status,
        "version": result.version,
        "merged_fields": result.merged_fields,
        "conflicts": [{"id": str(c.pk), "field": c.field} for c in result.conflicts],
        "amendment_id": str(result.amendment.pk) if result.amendment else None,
        "record": to_wire(spec, result.instance, user),
    }


URL_NAMES = {
    spec_name: spec_name.replace("_", "-") + "s"
    for spec_name in ("shift", "engagement", "incident", "scene_response", "follow_up_case", "contact_attempt")
}


def viewsets_by_url():
    return [(URL_NAMES.get(s.name, s.name + "s"), build_viewset(s), s.name) for s in ordered_specs()]
