"""A compiled validator for record input, built from the same rules as the input serializer.

A push validates hundreds of mutations. Through the type's DRF input serializer (records/registry.py) each one
costs a serializer re-arm, a Python call per field and a jsonschema walk of every list field, about half a
millisecond. This module compiles, once per record type, a msgspec type from that serializer's fields: their
types, lengths, choices and nullability, and the JSON schemas of the list fields (backend/validators.py),
translated keyword by keyword. msgspec checks a record's values in C; what it cannot express (surrounding
whitespace, which DRF would strip; timestamps; decimals; foreign keys) is finished in Python by the same DRF
field methods the serializer would call.

The serializer stays the one source of the rules and the one source of error messages: `fast_parse` returns
the validated values only when it is certain the serializer would return exactly these values; for anything
else (any value msgspec refuses, any rule it does not know) it returns None and the caller asks the serializer,
which then accepts with its own values or rejects with its own errors. So a client sees the same answer either
way; tests/records/test_validation.py checks, on inputs hypothesis generates, that whatever this accepts the
serializer accepts with equal values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

import msgspec
from django.core import validators as django_validators
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import ISO_8601
from rest_framework import fields as drf_fields
from rest_framework import relations as drf_relations
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.serializers import Serializer
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from backend.validators import JSONShapeValidator, Unsupported, annotated

# What the fast path takes as a timestamp or a date; anything else is left to the serializer's own parser.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6}|\.\d{3})?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class _Refer(Exception):
    """A value the fast path is not certain about: the serializer decides."""


@dataclass(frozen=True)
class _Plan:
    """Per record type: the msgspec type of its values, and per field a finishing step (or None)."""

    struct: type
    finish: dict[str, Callable[[Any], Any] | None]
    order: tuple[str, ...]


# --- serializer fields to msgspec types and finishing steps ------------------------------------------------

_STRING_VALIDATORS = (
    django_validators.MaxLengthValidator,
    django_validators.ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


def _nullable(typ: Any, field: drf_fields.Field[Any, Any, Any, Any]) -> Any:
    return Union[typ, None] if field.allow_null else typ  # noqa: UP007 (a runtime type expression)


def _string(field: drf_fields.CharField) -> tuple[Any, Callable[[Any], Any] | None]:
    if not all(isinstance(v, _STRING_VALIDATORS) for v in field.validators) or field.min_length:
        raise Unsupported("string validators")
    meta: dict[str, Any] = {"max_length": field.max_length}
    if not field.allow_blank:
        meta["min_length"] = 1
    typ = _nullable(annotated(str, meta), field)
    if not field.trim_whitespace:
        return typ, _text
    allow_blank = field.allow_blank

    def stripped(value: Any) -> Any:
        """DRF strips surrounding whitespace (str.strip) before its checks; a string blank once stripped is
        the serializer's to judge. Lengths: msgspec checked the longer, unstripped string."""
        if value is None:
            return None
        value = value.strip()
        if not value and not allow_blank:
            raise _Refer
        return _text(value)

    return typ, stripped


def _text(value: Any) -> Any:
    """A string DRF's CharField keeps as it is: no NUL, no lone surrogate."""
    if value is not None and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refer from None
    if value is not None and "\x00" in value:
        raise _Refer
    return value


def _choice(field: drf_fields.ChoiceField) -> tuple[Any, None]:
    if field.validators or not all(isinstance(k, str) for k in field.choices):
        raise Unsupported("choice validators or non-string choices")
    keys = tuple(field.choices) + (("",) if field.allow_blank and "" not in field.choices else ())
    return _nullable(Literal[keys], field), None


def _datetime(field: drf_fields.DateTimeField) -> tuple[Any, Callable[[Any], Any]]:
    # Django's parse_datetime (which DRF calls) starts with fromisoformat: the same value.
    return _iso(field, _DATETIME, lambda value: field.enforce_timezone(dt.datetime.fromisoformat(value)))


def _date(field: drf_fields.DateField) -> tuple[Any, Callable[[Any], Any]]:
    return _iso(field, _DATE, dt.date.fromisoformat)


def _iso(
    field: drf_fields.DateTimeField | drf_fields.DateField, pattern: re.Pattern[str], parse: Callable[[str], Any]
) -> tuple[Any, Callable[[Any], Any]]:
    """A timestamp or date field: an ISO string of the strict `pattern`, parsed as DRF would parse it."""
    if field.validators or getattr(field, "input_formats", None) not in (None, [ISO_8601]):
        raise Unsupported("date or time validators or input formats")

    def finish(value: Any) -> Any:
        if value is None:
            return None
        if not pattern.fullmatch(value):
            raise _Refer
        try:
            return parse(value)
        except (ValueError, OverflowError, DRFValidationError):
            raise _Refer from None

    return _nullable(str, field), finish


def _json(field: drf_fields.JSONField) -> tuple[Any, Callable[[Any], Any] | None]:
    """The field's shape validator's own compiled form (backend/validators.py), nullable as the field is."""
    shapes = [v for v in field.validators if isinstance(v, JSONShapeValidator)]
    if field.binary or len(shapes) != 1 or len(field.validators) != 1 or shapes[0].compiled is None:
        raise Unsupported("JSON field without exactly one compiled shape validator")
    typ, unique = shapes[0].compiled
    if not unique:
        return _nullable(typ, field), None

    def finish(value: Any) -> Any:
        if value is not None and len(set(value)) != len(value):  # items are strings or integers here
            raise _Refer
        return value

    return _nullable(typ, field), finish


def _by_serializer(field: drf_fields.Field[Any, Any, Any, Any]) -> tuple[Any, Callable[[Any], Any]]:
    """A field msgspec does not check (decimals, foreign keys): its own DRF field validates it, as the
    serializer would (run_validation: null and blank handling, conversion, validators)."""

    def finish(value: Any) -> Any:
        try:
            return field.run_validation(value)
        except (DRFValidationError, DjangoValidationError, ValueError, TypeError):
            raise _Refer from None

    return Any, finish


def _field_rule(field: drf_fields.Field[Any, Any, Any, Any]) -> tuple[Any, Callable[[Any], Any] | None]:
    kind = type(field)
    if kind is drf_fields.CharField:
        return _string(field)  # type: ignore[arg-type]
    if kind is drf_fields.ChoiceField:
        return _choice(field)  # type: ignore[arg-type]
    if kind is drf_fields.BooleanField and not field.validators:
        return _nullable(bool, field), None
    if kind is drf_fields.DateTimeField:
        return _datetime(field)  # type: ignore[arg-type]
    if kind is drf_fields.DateField:
        return _date(field)  # type: ignore[arg-type]
    if kind is drf_fields.JSONField:
        return _json(field)  # type: ignore[arg-type]
    if kind in (drf_fields.DecimalField, drf_relations.PrimaryKeyRelatedField):
        return _by_serializer(field)
    raise Unsupported(f"serializer field {kind.__name__}")


def compile_plan(serializer: Any) -> _Plan | None:
    """The fast path for one input serializer (already built), or None when any of its rules is unsupported
    or the serializer has rules of its own (validators, validate methods) beyond its fields'."""
    cls = type(serializer)
    if serializer.get_validators() or cls.validate is not Serializer.validate:
        return None
    try:
        rules = {}
        for name, field in serializer.fields.items():
            if field.read_only or hasattr(serializer, f"validate_{name}") or field.source != name:
                raise Unsupported(f"{name}: read-only, a validate_ method or another source")
            rules[name] = _field_rule(field)
    except Unsupported:
        return None
    struct = msgspec.defstruct(
        f"{cls.__name__}Values",
        [(name, typ, msgspec.UNSET) for name, (typ, _) in rules.items()],
        forbid_unknown_fields=True,
    )
    return _Plan(struct=struct, finish={n: f for n, (_, f) in rules.items()}, order=tuple(rules))


def fast_parse(plan: _Plan, data: dict[str, Any]) -> dict[str, Any] | None:
    """The values the serializer would return for `data` (an object with known field names only), in the
    serializer's field order, or None when the serializer has to decide."""
    try:
        msgspec.convert(data, plan.struct)
    except msgspec.ValidationError:
        return None
    values = {}
    try:
        for name in plan.order:
            if name in data:
                finish = plan.finish[name]
                values[name] = data[name] if finish is None else finish(data[name])
    except _Refer:
        return None
    return values
