"""JSONShapeValidator accepts through its compiled msgspec type what the schema accepts, and judges the rest
with jsonschema: the same acceptance and the same errors as jsonschema alone, for every schema the record
types use, at every keyword's edges."""

import pytest
from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator

from backend.validators import JSONShapeValidator, compiled_schema
from tests.records.test_validation import boundary_cases, json_fields


def judged(validator, value):
    try:
        validator(value)
    except ValidationError as exc:
        return exc.code, exc.message
    return None


@pytest.mark.parametrize("spec_name, name, schema", list(json_fields()))
def test_every_schema_compiles_and_judges_as_jsonschema(spec_name, name, schema):
    assert compiled_schema(schema) is not None, (spec_name, name)
    validator = JSONShapeValidator(schema)
    plain = JSONShapeValidator(schema)
    plain.compiled = None  # jsonschema alone, as before
    for value, valid in boundary_cases(schema):
        assert Draft202012Validator(schema).is_valid(value) == valid, value
        assert judged(validator, value) == judged(plain, value), value
        assert (judged(validator, value) is None) == valid, value


def test_the_compiled_type_is_used():
    """Accepting a valid value does not walk jsonschema."""
    validator = JSONShapeValidator({"type": "array", "items": {"type": "integer", "maximum": 3}, "maxItems": 2})
    validator._validator = None  # any use of jsonschema would fail
    validator([1, 3])
    with pytest.raises(AttributeError):
        validator([4])
