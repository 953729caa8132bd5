"""The wire form of records read straight from database rows: a pull page without model instances.

`to_wire(spec, instance, user, loaded=True)` (records/wire.py) builds a record's wire form from a model instance.
A pull page of 500 records spent most of its time building those instances and decoding each JSON column with
the standard library's json. Here a page reads the same columns with `values_list`, JSON columns as their text
(decoded by msgspec, which gives the same values as json.loads, integers of any size included), and builds
the same dictionaries in the same key order with the same conversions: tests/sync/test_wire_format.py checks
every record type against to_wire, byte for byte once rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
from django.db import models
from django.db.models import F, TextField
from django.db.models.functions import Cast

from .redaction import hidden_fields
from .registry import RecordSpec
from .wire import _snapshot_plan, json_value


class JSONFloat(float):
    """A float read from a record's JSON. A float like any other, except to backend.renderers.SyncJSONRenderer,
    which leaves it to DRF's renderer (orjson writes some floats differently from Python's repr)."""

    __slots__ = ()


_DECODE = msgspec.json.Decoder(float_hook=JSONFloat).decode

# Server-owned columns every record carries, after the writable and read-only fields (to_wire's order).
_TAIL = (
    "created_by_id",
    "updated_by_id",
    "created_on_device_id",
    "app_version",
    "form_version",
    "device_created_at",
    "device_updated_at",
    "server_received_at",
    "server_updated_at",
    "is_late",
)
_HEAD = ("pk", "version", "program__code", "team_id", "deleted_at", "program_id")


@dataclass(frozen=True)
class WireRow:
    """What a pull needs of one record besides its wire form."""

    pk: Any
    version: int
    team_id: int
    program_id: int
    deleted: bool
    record: dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    columns: tuple[Any, ...]
    # Per writable field: (name, convert); convert None: the value as the database returned it.
    fields: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    read_only: tuple[str, ...]


_PLANS: dict[str, _Plan] = {}


def _plan(spec: RecordSpec) -> _Plan:
    plan = _PLANS.get(spec.name)
    if plan is not None:
        return plan
    columns: list[Any] = list(_HEAD)
    fields = []
    for name, attname, is_relation, native_json, serializer_field in _snapshot_plan(spec):
        if native_json:
            columns.append(Cast(F(attname), output_field=TextField()))
            fields.append((name, _DECODE))
        else:
            columns.append(attname)
            fields.append((name, _relation if is_relation else _representation(serializer_field)))
    columns += list(spec.read_only) + list(_TAIL)
    plan = _PLANS[spec.name] = _Plan(tuple(columns), tuple(fields), tuple(spec.read_only))
    return plan


def _relation(raw: Any) -> Any:
    return raw if isinstance(raw, int) else str(raw)


def _representation(serializer_field: Any) -> Callable[[Any], Any]:
    """snapshot()'s conversion of a value that is not a database JSON value (records/wire.py)."""
    return partial(json_value, serializer_field)


def _iso(value: Any) -> Any:
    return value.isoformat() if value else None


def wire_rows(spec: RecordSpec, queryset: models.QuerySet[Any], user: Any) -> list[WireRow]:
    """The records of `queryset` (its filters and order, no select_related needed) in their wire form for
    `user`, as to_wire(spec, instance, user, loaded=True) gives them."""
    plan = _plan(spec)
    out = []
    hidden_by_program: dict[int, frozenset[str]] = {}
    for row in queryset.values_list(*plan.columns):
        out.append(_build(spec, plan, row, user, hidden_by_program))
    return out


def _build(
    spec: RecordSpec, plan: _Plan, row: tuple[Any, ...], user: Any, hidden: dict[int, frozenset[str]]
) -> WireRow:
    pk, version, program_code, team_id, deleted_at, program_id = row[:6]
    record: dict[str, Any] = {
        "type": spec.name,
        "id": str(pk),
        "version": version,
        "program": program_code,
        "team": team_id,
        "deleted": deleted_at is not None,
    }
    values = iter(row[6:])  # read in three stretches: writable fields, read-only fields, the server's columns
    for (name, convert), raw in zip(plan.fields, values, strict=False):
        record[name] = None if raw is None else (raw if convert is None else convert(raw))
    for name, value in zip(plan.read_only, values, strict=False):
        record[name] = value.isoformat() if hasattr(value, "isoformat") else value
    created_by, updated_by, device, app_version, form_version, *times, is_late = values
    record["created_by"] = created_by
    record["updated_by"] = updated_by
    record["created_on_device"] = str(device) if device else None
    record["app_version"] = app_version
    record["form_version"] = form_version
    for name, value in zip(_TAIL[5:9], times, strict=True):
        record[name] = _iso(value)
    record["is_late"] = is_late
    if spec.restricted:
        names = hidden.get(program_id)
        if names is None:
            names = hidden[program_id] = hidden_fields(spec.name, user, program_id)
        for name in names:
            record.pop(name, None)
    return WireRow(pk, version, team_id, program_id, deleted_at is not None, record)
