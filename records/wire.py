"""The wire form of a record: what clients send and get back, what versions store and merges compare.

`to_wire`/`snapshot`/`canonical` go out; `parse_fields` comes in (through the type's input serializer, built
from the model in records/registry.py). Every caller (REST, sync push and pull, review, reports) uses these.
"""

import json
import threading
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework import serializers

from backend import metrics
from backend.drf_internals import rearm_serializer

from .redaction import hidden_fields
from .registry import RecordSpec
from .validation import compile_plan, fast_parse

# Foreign keys the server sets itself (or has already checked against the writer's scope): full_clean need not
# query each one again. Primary-key uniqueness is checked explicitly before an insert; other unique
# constraints are still validated (validate_constraints) and guarded by the database.
SERVER_SET = ("program", "team", "created_by", "created_on_device", "updated_by")


def canonical(spec: RecordSpec, name: str, value: Any) -> Any:
    """The JSON form of a field value: what the wire carries and what merges compare."""
    if value is None:
        return None
    ser_field = _serializer_fields(spec)[name]
    if hasattr(value, "pk"):
        value = value.pk
        return str(value) if not isinstance(value, int) else value
    return json.loads(json.dumps(ser_field.to_representation(value), default=str))


# Representations json.loads(json.dumps(...)) returns unchanged: no round trip needed.
_JSON_SCALARS = frozenset({str, int, bool})


def snapshot(spec: RecordSpec, instance: Any, loaded: bool = False) -> dict[str, Any]:
    """The writable fields' JSON form (what the wire carries, what versions store and merges compare).

    Every value is a fresh JSON-native object, so a version snapshot taken now does not change with the
    instance. loaded=True: the instance was just read from the database and is only serialized afterwards
    (a pull): its JSON fields, which the database handed back as plain JSON values, are used as they are
    instead of being copied through json.dumps/json.loads (the same values, at a fraction of the cost).
    """
    data: dict[str, Any] = {}
    for name, attname, is_relation, native_json, serializer_field in _snapshot_plan(spec):
        raw = getattr(instance, attname)
        if raw is None:
            data[name] = None
        elif is_relation:
            data[name] = raw if isinstance(raw, int) else str(raw)
        elif loaded and native_json:
            data[name] = raw
        else:
            data[name] = json_value(serializer_field, raw)
    return data


def json_value(serializer_field: Any, raw: Any) -> Any:
    """A field's value (not None) in its JSON form, as a fresh object: what snapshot() stores for it."""
    value = serializer_field.to_representation(raw)
    return value if type(value) in _JSON_SCALARS else json_copy(value)


# What json.dumps(default=str) writes: non-string keys as strings, datetimes and dataclasses through str().
_AS_JSON_DUMPS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_copy(value: Any) -> Any:
    """A fresh copy of a value as JSON has it: json.loads(json.dumps(value, default=str)), through orjson (the
    same values; non-string keys become strings as json.dumps writes them) where orjson can write the value
    (it cannot integers beyond 64 bits: those take the standard library)."""
    try:
        return orjson.loads(orjson.dumps(value, default=str, option=_AS_JSON_DUMPS))
    except TypeError:
        return json.loads(json.dumps(value, default=str))


_SNAPSHOT_PLANS: dict[str, tuple[tuple[str, str, bool, bool, Any], ...]] = {}


def _snapshot_plan(spec: RecordSpec) -> tuple[tuple[str, str, bool, bool, Any], ...]:
    """Per writable field, once per type: (name, attname, is a foreign key, JSON the database returns as plain
    JSON values (a JSONField without a custom decoder, whose serializer field passes it through), serializer
    field)."""
    plan = _SNAPSHOT_PLANS.get(spec.name)
    if plan is None:
        serializer_fields = _serializer_fields(spec)
        rows = []
        for name in spec.policies:
            f = spec.model._meta.get_field(name)
            ser_field = serializer_fields[name]
            native_json = (
                isinstance(f, models.JSONField)
                and f.decoder is None
                and type(ser_field) is serializers.JSONField
                and not ser_field.binary
            )
            rows.append((name, f.attname, f.is_relation, native_json, ser_field))
        plan = _SNAPSHOT_PLANS[spec.name] = tuple(rows)
    return plan


_SERIALIZER_FIELDS: dict[str, Any] = {}


def _serializer_fields(spec: RecordSpec) -> Any:
    cached = _SERIALIZER_FIELDS.get(spec.name)
    if cached is None:
        cached = _SERIALIZER_FIELDS[spec.name] = spec.input_serializer().fields
    return cached


def to_wire(spec: RecordSpec, instance: Any, user: Any, loaded: bool = False) -> dict[str, Any]:
    """One record as a client sees it: its writable fields plus server-owned facts; restricted fields hidden.

    loaded: the instance comes straight from a query and is only serialized afterwards (see snapshot)."""
    data = {
        "type": spec.name,
        "id": str(instance.pk),
        "version": instance.version,
        "program": instance.program.code if instance.program_id else None,
        "team": instance.team_id,
        "deleted": instance.deleted_at is not None,
    }
    data.update(snapshot(spec, instance, loaded=loaded))
    for name in spec.read_only:
        value = getattr(instance, name)
        data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    data.update(
        {
            "created_by": instance.created_by_id,
            "updated_by": instance.updated_by_id,
            "created_on_device": str(instance.created_on_device_id) if instance.created_on_device_id else None,
            "app_version": instance.app_version,
            "form_version": instance.form_version,
            "device_created_at": _iso(instance.device_created_at),
            "device_updated_at": _iso(instance.device_updated_at),
            "server_received_at": _iso(instance.server_received_at),
            "server_updated_at": _iso(instance.server_updated_at),
            "is_late": instance.is_late,
        }
    )
    if spec.restricted:
        for name in hidden_fields(spec.name, user, instance.program_id):
            data.pop(name, None)
    return data


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def parse_fields(spec: RecordSpec, data: Any, partial: bool = True) -> dict[str, Any]:
    """Validate and convert client values (wire form) to Python values. Unknown fields are an error."""
    if not isinstance(data, dict):
        raise ValidationError({"fields": [ValidationError("Expected an object.", code="wrong_type")]})
    unknown = sorted(set(data) - set(spec.policies))
    if unknown:
        raise ValidationError(
            {n: [ValidationError("Unknown or read-only field.", code="unknown_field")] for n in unknown}
        )
    missing = [] if partial else [name for name in _required_on_create(spec) if name not in data]
    if not missing:
        values = fast_parse_fields(spec, data)
        if values is not None:
            return values
    serializer = _input_serializer(spec, data, partial)
    errors = {} if serializer.is_valid() else dict(serializer.errors)
    for name in missing:
        if name not in errors:
            errors[name] = [serializers.ErrorDetail("This field is required.", code="required")]
    if errors:
        raise _drf_to_django(errors)
    return dict(serializer.validated_data)


_FAST_PLANS: dict[str, Any] = {}


def fast_parse_fields(spec: RecordSpec, data: dict[str, Any]) -> dict[str, Any] | None:
    """The compiled validator's values for `data` (records/validation.py), or None: the serializer decides.

    Counted in record_input_validations_total{path="compiled"|"serializer"} so a fast path that stops engaging
    (a new rule it cannot compile, clients sending values it refers) shows in the metrics."""
    plan = _FAST_PLANS.get(spec.name, False)
    if plan is False:
        plan = _FAST_PLANS[spec.name] = compile_plan(spec.input_serializer())
    values = fast_parse(plan, data) if plan is not None else None
    metrics.RECORD_INPUT_VALIDATIONS.labels(path="serializer" if values is None else "compiled").inc()
    return values


_INPUT_SERIALIZERS = threading.local()


def _input_serializer(spec: RecordSpec, data: Any, partial: bool) -> Any:
    """This thread's input serializer for the type, re-armed with new data.

    A new serializer deep-copies its thirty-odd fields, which cost more than validating the values; the fields
    keep no state between calls, so one instance per thread is reused.
    """
    cache = _INPUT_SERIALIZERS.__dict__.setdefault("by_type", {})
    serializer = cache.get(spec.name)
    if serializer is None or type(serializer) is not spec.input_serializer:
        serializer = cache[spec.name] = spec.input_serializer()
    return rearm_serializer(serializer, data, partial=partial)


_REQUIRED_ON_CREATE: dict[str, list[str]] = {}


def _required_on_create(spec: RecordSpec) -> list[str]:
    """Fields a new record must carry: not blank, not null, and without a default (a scene response's incident
    among them; the foreign keys the server sets are not the client's to send). Read from the model once per
    type: every pushed create asks."""
    cached = _REQUIRED_ON_CREATE.get(spec.name)
    if cached is not None:
        return cached
    required = []
    for name in spec.policies:
        f = spec.model._meta.get_field(name)
        if not f.blank and not f.null and not f.has_default() and name not in SERVER_SET:
            required.append(name)
    _REQUIRED_ON_CREATE[spec.name] = required
    return required


def _drf_to_django(errors: dict[str, Any]) -> ValidationError:
    out = {}
    for name, errs in errors.items():
        items = errs if isinstance(errs, list) else [errs]
        out[name] = [ValidationError(str(e), code=getattr(e, "code", "invalid")) for e in items]
    return ValidationError(out)
