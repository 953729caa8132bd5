"""New rows in bulk: one COPY on PostgreSQL.

A push ends by inserting hundreds of rows with large JSON values (records, version snapshots, mutations, audit
events). Through bulk_create, Django 5.2 sends them as arrays of literals (INSERT ... SELECT * FROM UNNEST),
and psycopg quotes each JSON element of those arrays in Python: about three quarters of the insert's cost.
COPY sends the same values in psycopg's row format instead, written in C. The rows, their defaults and
their constraints are the same; a refused row raises Django's IntegrityError as bulk_create would.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.db.models.fields import AutoFieldMixin


def insert_many(model: type[Model], objs: Iterable[Model]) -> None:
    """Insert new instances of `model` (as bulk_create would, without setting ids the database generates)."""
    objs = list(objs)
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not _generated_key(f, objs)]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    started = time.monotonic()
    try:
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
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
