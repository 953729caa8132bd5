"""The column mapping between WatermelonDB rows and the engine's records (docs/watermelondb.md, "Tables and columns").

The schema an app declares is generated here from the record types; `encode` turns an engine wire record into a
WatermelonDB raw row, `decode` a pushed raw row into engine fields, and `same_as_server` says whether a row a
phone holds is the server's row column for column.
"""

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from backend.dates import try_parse_datetime
from records.registry import RecordSpec, ordered_specs
from records.wire import canonical, parse_fields

# Bumped when the column mapping changes incompatibly; apps compare it with the schema they ship.
SCHEMA_VERSION = 1
IGNORED = {"id", "_status", "_changed"}


@dataclass(frozen=True)
class Column:
    name: str  # WatermelonDB column
    type: str  # string | number | boolean
    optional: bool
    source: str  # key in the engine's wire record
    kind: str = "plain"  # plain | ref | datetime | date | json | decimal
    writable: bool = True
    places: int = 0  # decimal places the server stores (decimal columns)


def table_name(spec: RecordSpec) -> str:
    return f"{spec.name}s"


def _field_column(spec: RecordSpec, name: str, writable: bool = True) -> Column:
    f = spec.model._meta.get_field(name)
    optional = f.null or name in spec.restricted
    if f.is_relation:
        # A synced record is pointed at by its UUID (a @relation); anything else (a person) by its number.
        return Column(f"{name}_id", "string" if name in spec.references else "number", True, name, "ref", writable)
    if isinstance(f, models.DateTimeField):
        return Column(name, "number", optional, name, "datetime", writable)
    if isinstance(f, models.DateField):
        return Column(name, "string", optional, name, "date", writable)
    if isinstance(f, models.BooleanField):
        return Column(name, "boolean", optional, name, "plain", writable)
    if isinstance(f, models.DecimalField):
        return Column(name, "number", optional, name, "decimal", writable, f.decimal_places)
    if isinstance(f, (models.IntegerField, models.FloatField)):
        return Column(name, "number", optional, name, "plain", writable)
    if isinstance(f, models.JSONField):
        return Column(name, "string", False, name, "json", writable)
    return Column(name, "string", optional, name, "plain", writable)


SERVER_COLUMNS = (
    Column("server_version", "number", False, "version", writable=False),
    Column("program", "string", False, "program", writable=False),
    # Optional so an app that never sets it sends null, not WatermelonDB's 0 for a number column.
    Column("team_id", "number", True, "team", writable=False),
    Column("created_by", "number", True, "created_by", writable=False),
    Column("updated_by", "number", True, "updated_by", writable=False),
    Column("created_on_device", "string", True, "created_on_device", writable=False),
    Column("app_version", "string", False, "app_version", writable=False),
    Column("form_version", "string", False, "form_version", writable=False),
    Column("device_created_at", "number", True, "device_created_at", "datetime", writable=False),
    Column("device_updated_at", "number", True, "device_updated_at", "datetime", writable=False),
    Column("server_received_at", "number", True, "server_received_at", "datetime", writable=False),
    Column("server_updated_at", "number", True, "server_updated_at", "datetime", writable=False),
    Column("is_late", "boolean", False, "is_late", writable=False),
)

_COLUMNS: dict[str, dict[str, Column]] = {}


def columns(spec: RecordSpec) -> dict[str, Column]:
    cached = _COLUMNS.get(spec.name)
    if cached is None:
        cols = [_field_column(spec, name) for name in spec.policies]
        cols += list(SERVER_COLUMNS)
        for name in spec.read_only:
            col = _field_column(spec, name.removesuffix("_id") if name.endswith("_id") else name, writable=False)
            if name.endswith("_id"):  # a server-set key shown as the id it holds (reviewed_by_id)
                col = Column(name, "number", True, name, "plain", False)
            cols.append(col)
        cached = _COLUMNS[spec.name] = {c.name: c for c in cols}
    return cached


def specs_by_table() -> dict[str, RecordSpec]:
    return {table_name(spec): spec for spec in ordered_specs()}


def schema() -> dict[str, Any]:
    """The tables and columns an app declares with appSchema/tableSchema, generated from the record types."""
    return {
        "version": SCHEMA_VERSION,
        "tables": [
            {
                "name": table,
                "columns": [
                    {"name": c.name, "type": c.type, **({"isOptional": True} if c.optional else {})}
                    for c in columns(spec).values()
                ],
            }
            for table, spec in specs_by_table().items()
        ],
    }


# --- values ------------------------------------------------------------------------------------------------------


def _to_column(col: Column, value: Any) -> Any:
    if value is None:
        return None
    if col.kind == "datetime":
        parsed = try_parse_datetime(value) if isinstance(value, str) else value
        return round(parsed.timestamp() * 1000)  # type: ignore[union-attr]  # validated on the way in
    if col.kind == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if col.kind == "decimal":
        return float(value)
    return value


def encode(spec: RecordSpec, wire: dict[str, Any]) -> dict[str, Any]:
    raw = {"id": wire["id"]}
    for col in columns(spec).values():
        if col.source in wire:
            raw[col.name] = _to_column(col, wire[col.source])
    return raw


class ColumnError(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def _from_column(col: Column, value: Any) -> Any:
    """A column value as the engine's wire form. Raises ColumnError. Returns ... for 'not given'."""
    if value is None:
        return None
    if col.kind == "ref":
        return value if value not in ("", 0) else None
    if col.kind == "datetime":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ColumnError("wrong_type", "Expected milliseconds since the epoch (a number).")
        if value == 0 and not col.optional:
            return ...  # WatermelonDB's empty number: never set on the phone, not 1970-01-01

        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise ColumnError("invalid_value", "Not a time this server can store.") from None
    if col.kind == "json":
        if value == "":
            return ...  # WatermelonDB's empty value for a column the app never set: the field's default applies
        if not isinstance(value, str):
            raise ColumnError("wrong_type", "Expected a JSON text (WatermelonDB @json column).")
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise ColumnError("invalid_json", "Not valid JSON text.") from None
        if "\\u0000" in json.dumps(parsed):
            raise ColumnError("invalid_json", "JSON text may not hold NUL characters.")
        return parsed
    if col.kind == "decimal" and isinstance(value, float) and math.isfinite(value):
        # A phone's GPS gives more decimals than the server stores (6: about 0.1 m): round, as the server would.
        try:
            return str(round(Decimal(repr(value)), col.places))
        except ArithmeticError:  # too large to round: the engine's validation rejects it as it stands
            return value
    if col.kind == "date" and value == "":
        return None
    return value


def decode(
    spec: RecordSpec, raw: dict[str, Any], role: str | None, only: Collection[str] | None = None
) -> dict[str, Any]:
    """A pushed raw row as engine fields. An unknown column raises ColumnError (the app's schema does not match
    this server's: nothing is applied); a bad value is left to the engine's validation, which rejects this
    record alone and keeps it in quarantine."""
    cols = columns(spec)
    fields = {}
    for key, value in raw.items():
        if key in IGNORED:
            continue
        col = cols.get(key)
        if col is None:
            raise ColumnError("unknown_column", f"{table_name(spec)}.{key} is not a column of this server's schema.")
        if not col.writable or (only is not None and key not in only):
            continue
        if col.source in spec.restricted and role not in spec.restricted[col.source]:
            continue  # hidden from this role on pull, so whatever the device holds is not a value
        try:
            converted = _from_column(col, value)
        except ColumnError:
            converted = value  # as sent: the engine's validation rejects this record with the field's error
        if converted is not ...:
            fields[col.source] = converted
    return fields


def same_as_server(
    spec: RecordSpec, raw: dict[str, Any], server_raw: dict[str, Any], writable_only: bool = False
) -> bool:
    """Whether a row a phone holds is, column for column, the row the server would send it now (writable_only:
    the columns the phone writes, leaving out server_version and the other columns the server fills).

    A column the server leaves out for this user (a restricted field) is null on the phone. A column the phone
    did not send is unknown, so not the same: the server's row is sent again, which is never wrong."""
    for name, col in columns(spec).items():
        if writable_only and not col.writable:
            continue
        if name not in raw:
            return False
        mine, theirs = raw[name], server_raw.get(name)
        if mine != theirs or isinstance(mine, bool) != isinstance(theirs, bool):
            return False
    return True


def canonical_state(spec: RecordSpec, fields: Any) -> dict[str, Any] | None:
    """The fields as merges compare them, or None when they do not parse (the engine rejects them anyway)."""
    try:
        values = parse_fields(spec, fields, partial=True)
    except ValidationError:
        return None
    return {name: canonical(spec, name, value) for name, value in values.items()}
