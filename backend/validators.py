"""Shape validation for the JSON list/dict fields of field records."""

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

    def __call__(self, value):
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
