"""Shape validation for the JSON list/dict fields of field records."""

from typing import Annotated, Any, Literal

import msgspec
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from jsonschema import Draft202012Validator

ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$"


@deconstructible
class JSONShapeValidator:
    """Validate a JSON value against a JSON Schema; the first error becomes a field error with a code."""

    def __init__(self, schema):
        self.schema = schema
        Draft202012Validator.check_schema(schema)
        # Built once: constructing a validator costs more than validating one record's list.
        self._validator = Draft202012Validator(schema)
        # (msgspec type, unique top-level items) or None: records/validation.py builds on it too.
        self.compiled = compiled_schema(schema)

    def __call__(self, value):
        if self.compiled is not None and _accepts(self.compiled, value):
            return  # what the compiled type accepts, the schema accepts (tests/backend/test_validators.py)
        error = next(iter(sorted(self._validator.iter_errors(value), key=lambda e: list(e.absolute_path))), None)
        if error is None:
            return
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        code = {
            "enum": "invalid_choice",
            "maximum": "out_of_range",
            "minimum": "out_of_range",
            "maxItems": "too_many_items",
            "maxLength": "too_long",
            "required": "required",
            "additionalProperties": "unknown_field",
            "type": "wrong_type",
            "pattern": "invalid_format",
            "uniqueItems": "duplicate_item",
        }.get(error.validator, "invalid_shape")
        raise ValidationError(f"At {where}: {error.message[:200]}", code=code)

    def __eq__(self, other):
        return isinstance(other, JSONShapeValidator) and other.schema == self.schema


def list_of(item_schema, max_items=100, unique=False):
    schema = {"type": "array", "items": item_schema, "maxItems": max_items}
    if unique:
        schema["uniqueItems"] = True
    return schema


def code_list(choices, max_items=30):
    return list_of({"type": "string", "enum": [c for c, _ in choices]}, max_items=max_items, unique=True)


def obj(properties, required=()):
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def text(max_length=200):
    return {"type": "string", "maxLength": max_length}


def count(maximum=10000):
    return {"type": "integer", "minimum": 0, "maximum": maximum}


def enum(choices):
    return {"type": "string", "enum": [c for c, _ in choices]}


def counts_by_code(choices, maximum=10000):
    """{code: non-negative count} with codes from a list."""
    return {
        "type": "object",
        "propertyNames": {"enum": [c for c, _ in choices]},
        "additionalProperties": count(maximum),
    }


DATETIME = {"type": "string", "pattern": ISO_DATETIME}


# --- The same schemas compiled to msgspec types: acceptance in C, without jsonschema's walk ------------------


class Unsupported(Exception):
    """A schema rule the compiler below does not translate: jsonschema alone judges such values."""


_SCHEMA_KEYWORDS = {
    "type", "items", "maxItems", "uniqueItems", "enum", "maxLength", "pattern", "properties", "required",
    "additionalProperties", "propertyNames", "minimum", "maximum", "format",
}  # fmt: skip


def schema_type(schema: dict[str, Any]) -> Any:
    """The msgspec type accepting a subset of what `schema` accepts (jsonschema, draft 2020-12).

    Where msgspec is stricter (an integer sent as 2.0, which JSON Schema calls an integer), the value is
    referred to the serializer, which is never wrong. Keywords outside the subset raise Unsupported.
    """
    unknown = set(schema) - _SCHEMA_KEYWORDS
    if unknown:
        raise Unsupported(f"schema keywords {sorted(unknown)}")
    kind = schema.get("type")
    if "enum" in schema:
        if not all(isinstance(v, str) for v in schema["enum"]) or kind not in (None, "string"):
            raise Unsupported("enum of non-strings")
        return Literal[tuple(schema["enum"])]
    if kind == "string":
        meta = {"max_length": schema.get("maxLength"), "pattern": schema.get("pattern")}
        return annotated(str, meta)
    if kind == "integer":
        return annotated(int, {"ge": schema.get("minimum"), "le": schema.get("maximum")})
    if kind == "array":
        item = schema_type(schema.get("items", {"type": "string"})) if "items" in schema else Any
        return annotated(list[item], {"max_length": schema.get("maxItems")})  # type: ignore[valid-type]
    if kind == "object":
        return _object_type(schema)
    raise Unsupported(f"schema type {kind!r}")


def annotated(base: Any, meta: dict[str, Any]) -> Any:
    meta = {k: v for k, v in meta.items() if v is not None}
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _object_type(schema: dict[str, Any]) -> Any:
    if "propertyNames" in schema:
        names = schema["propertyNames"]
        extra = schema.get("additionalProperties")
        if set(names) != {"enum"} or not isinstance(extra, dict) or "properties" in schema:
            raise Unsupported("propertyNames other than an enum of keys with one value schema")
        return dict[Literal[tuple(names["enum"])], schema_type(extra)]  # type: ignore[misc]
    if schema.get("additionalProperties", True) is not False:
        raise Unsupported("objects that allow unknown properties")
    required = set(schema.get("required", ()))
    props = schema.get("properties", {})
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, sub in props.items():
        typ = schema_type(sub)
        fields.append((name, typ) if name in required else (name, typ, msgspec.UNSET))
    if required - set(props):
        raise Unsupported("required properties without a schema")
    fields.sort(key=lambda f: len(f) == 3)  # msgspec: fields without defaults first
    return msgspec.defstruct("Item", fields, forbid_unknown_fields=True)


def unique_paths(schema: dict[str, Any], path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where a schema asks for unique items (msgspec has no such constraint): checked after it."""
    found = []
    if schema.get("type") == "array":
        if schema.get("uniqueItems"):
            found.append(path)
        if isinstance(schema.get("items"), dict) and unique_paths(schema["items"], (*path, "*")):
            raise Unsupported("unique items inside list items")
    return found


def compiled_schema(schema: dict[str, Any]) -> tuple[Any, bool] | None:
    """(msgspec type, whether the top-level list must hold unique strings or integers), or None when the
    schema uses a rule the compiler does not translate. The type accepts a subset of what the schema accepts:
    a value it refuses is judged by jsonschema, which gives the error."""
    try:
        typ = schema_type(schema)
        unique = unique_paths(schema)
    except Unsupported:
        return None
    if unique and (unique != [()] or schema.get("items", {}).get("type") not in ("string", "integer")):
        return None
    return typ, bool(unique)


def _accepts(compiled: tuple[Any, bool], value: Any) -> bool:
    typ, unique = compiled
    try:
        msgspec.convert(value, typ)
    except msgspec.ValidationError:
        return False
    return not unique or len(set(value)) == len(value)
