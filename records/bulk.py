"""New rows in bulk: one COPY on PostgreSQL.

A push ends by inserting hundreds of rows with large JSON values (records, version snapshots, mutations, audit
events). Through bulk_create, Django 5.2 sends them as arrays of literals (INSERT ... SELECT * FROM UNNEST),
and psycopg quotes each JSON element of those arrays in Python: about three quarters of the insert's cost.
COPY sends the same values in psycopg's row format instead, written in C. The rows, their defaults and
their constraints are the same; a refused row raises Django's IntegrityError as bulk_create would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

import orjson
from django.db import connection, models
from django.db.models import Field, Model
from django.db.models.fields import AutoFieldMixin
from psycopg.types.json import Jsonb


def insert_many(model: type[Model], objs: Iterable[Model]) -> None:
    """Insert new instances of `model` (as bulk_create would, without setting ids the database generates)."""
    objs = list(objs)
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not _generated_key(f, objs)]
    values = [_column_value(f) for f in fields]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    started = time.monotonic()
    try:
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([value(obj) for value in values])
    finally:
        if connection.queries_logged:  # as a debug cursor logs a statement (COPY does not pass through one)
            connection.queries_log.append(
                {"sql": f"{sql} -- {len(objs)} rows", "time": f"{time.monotonic() - started:.3f}"}
            )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _generated_key(field: Field[Any, Any], objs: list[Model]) -> bool:
    """An auto-incremented primary key the objects leave to the database."""
    if not (field.primary_key and isinstance(field, AutoFieldMixin)):
        return False
    if any(getattr(obj, field.attname) is not None for obj in objs):
        raise ValueError("insert_many: give every object its id or none.")
    return True


# Field classes whose attribute value psycopg writes as Django would (COPY's text format parses each value
# with the column's own type): no per-value call into Django's field machinery, a third of a push's insert time.
_AS_IS = (
    models.CharField, models.TextField, models.BooleanField, models.UUIDField, models.DateField,
    models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
    models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.ForeignKey,
)  # fmt: skip


def _column_value(field: Field[Any, Any]) -> Callable[[Model], Any]:
    """How to read one column's value from an instance: the attribute itself where that is what Django would
    send, otherwise Django's own pre_save and get_db_prep_save. Exact classes only: a subclass may convert."""
    kind = type(field)
    attname = field.attname
    if kind in _AS_IS:
        return attrgetter(attname)
    if kind is models.DateTimeField and not (field.auto_now or field.auto_now_add):  # type: ignore[attr-defined]
        return lambda obj: _aware(field, getattr(obj, attname))
    if kind is models.JSONField and field.encoder is None:  # type: ignore[attr-defined]
        return lambda obj: _json(field, getattr(obj, attname))
    if kind is models.GenericIPAddressField:
        return _memoized(field)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)


def _memoized(field: Field[Any, Any]) -> Callable[[Model], Any]:
    """Django's preparation of a value that repeats across the rows (a push's audit events share one client
    address), computed once per value in this insert."""
    prepared: dict[Any, Any] = {}
    attname = field.attname

    def value(obj: Model) -> Any:
        raw = getattr(obj, attname)
        if raw not in prepared:
            prepared[raw] = field.get_db_prep_save(raw, connection)
        return prepared[raw]

    return value


def _aware(field: Field[Any, Any], value: Any) -> Any:
    # A naive datetime is made aware in the default zone by Django (with a warning); only Django knows how.
    if value is not None and getattr(value, "tzinfo", None) is None:
        return field.get_db_prep_save(value, connection)
    return value


def _json(field: Field[Any, Any], value: Any) -> Any:
    if value is None:  # SQL NULL, as Django stores a None (JSON null needs Value(None, JSONField()))
        return field.get_db_prep_save(value, connection)
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> bytes | str:
    """orjson where it can (the stored jsonb is the same: PostgreSQL parses and normalizes it); the standard
    library for what orjson refuses and json.dumps writes (integer keys, integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)
