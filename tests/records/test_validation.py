"""The compiled validator (records/validation.py) against the input serializer it is compiled from.

The property: for any input, when the compiled validator returns values, the serializer accepts the same input
and returns equal values (same types, same instants in the same zone); otherwise parse_fields asks the
serializer, so a client's answer is the serializer's either way. The inputs are generated from each type's own
serializer fields and JSON schemas: valid values, and the near misses a phone or a tampered client sends
(surrounding whitespace, numbers for strings, 2.0 for 2, a choice that is not one, a duplicated list item, a
timestamp without a zone, an unknown key inside a list item, ...).
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import fields as drf_fields
from rest_framework import relations as drf_relations

from backend.validators import JSONShapeValidator
from bench.workload import engagement_fields
from records import wire
from records.registry import get_spec, ordered_specs
from records.validation import compile_plan, fast_parse
from records.writes import WriteContext, record_create

pytestmark = pytest.mark.django_db

SPEC_NAMES = [s.name for s in ordered_specs()]

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
WHITESPACE = st.sampled_from(["", " ", "\t", "\n", "\u00a0", "\u2003"])


def padded(strategy):
    return st.tuples(WHITESPACE, strategy, WHITESPACE).map("".join)


def text_values(max_length):
    return st.one_of(
        st.text(max_size=(max_length or 50) + 2),
        padded(st.text(max_size=(max_length or 50))),
        st.sampled_from(["", " ", "ok", "\x00", "\ud800", "é" * (max_length or 50)]),
    )


def timestamps():
    aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).flatmap(
        lambda d: st.sampled_from(
            [
                d.isoformat(),
                d.isoformat().replace("+00:00", "Z"),
                d.replace(microsecond=0).isoformat(),
                (d.replace(tzinfo=None)).isoformat(),
                d.isoformat().replace("T", " "),
                d.astimezone().isoformat(),
                d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "-07:00",
            ]
        )
    )
    return aware | st.sampled_from(["2026-02-30T10:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01", "", "now"])


def dates():
    return st.dates().map(lambda d: d.isoformat()) | st.sampled_from(["2026-02-30", "2026-12-01T00:00:00Z", "1/2/26"])


def from_schema(schema):
    """Values for a JSON schema of the kind backend/validators.py writes: valid ones and near misses."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.sampled_from(["", "other_thing", 1])
    kind = schema.get("type")
    if kind == "string":
        base = text_values(schema.get("maxLength"))
        if schema.get("pattern"):
            base = base | st.sampled_from(["2026-12-01T10:00:00Z", "2026-12-01T10:00Z", "J.D.", "JD1", "ab-c"])
            base = base | st.uuids().map(str)
        return base
    if kind == "integer":
        lo, hi = schema.get("minimum", -5), schema.get("maximum", 5)
        edges = st.sampled_from([lo - 1, lo, hi, hi + 1])
        return edges | st.integers(lo, hi) | st.sampled_from([2.0, 1.5, True, "3", None, 2**70])
    if kind == "array":
        items = from_schema(schema.get("items", {}))
        top = (schema.get("maxItems") or 3) + 1
        return st.lists(items, max_size=min(top, 4)) | st.lists(items, min_size=top, max_size=top) | ANY_JSON
    if kind == "object":
        if "propertyNames" in schema:
            keys = st.sampled_from(schema["propertyNames"]["enum"]) | st.just("not_a_key")
            return st.dictionaries(keys, from_schema(schema["additionalProperties"]), max_size=4) | ANY_JSON
        props = {k: from_schema(v) for k, v in schema["properties"].items()}
        required = set(schema.get("required", ()))
        return (
            st.fixed_dictionaries(
                {k: v for k, v in props.items() if k in required},
                optional={**{k: v for k, v in props.items() if k not in required}, "extra": st.just(1)},
            )
            | ANY_JSON
        )
    return ANY_JSON


def field_values(field):
    """Values for one serializer field, its own rules read from it."""
    kind = type(field)
    wrong = st.sampled_from([None, True, 7, 2.5, [], {}])
    if kind is drf_fields.CharField:
        return text_values(field.max_length) | wrong
    if kind is drf_fields.ChoiceField:
        return st.sampled_from(list(field.choices)) | st.sampled_from(["", "nope", " on_view"]) | wrong
    if kind is drf_fields.BooleanField:
        return st.booleans() | st.sampled_from(["true", 1, 0, None])
    if kind is drf_fields.DateTimeField:
        return timestamps() | wrong
    if kind is drf_fields.DateField:
        return dates() | wrong
    if kind is drf_fields.DecimalField:
        return st.decimals(-200, 200, places=7).map(str) | st.sampled_from(["37.8", "NaN", "91", 12, 1.25]) | wrong
    if kind is drf_relations.PrimaryKeyRelatedField:
        return st.uuids().map(str) | st.sampled_from(["not-a-uuid", 5]) | wrong
    if kind is drf_fields.JSONField:
        (shape,) = [v for v in field.validators if isinstance(v, JSONShapeValidator)]
        return from_schema(shape.schema) | wrong
    return wrong


def records(spec_name):
    """A few fields at a time, so that a near miss in one is not hidden behind an error in another."""
    values = {name: field_values(f) for name, f in get_spec(spec_name).input_serializer().fields.items()}
    names = st.lists(st.sampled_from(sorted(values)), max_size=3, unique=True)
    return names.flatmap(lambda chosen: st.fixed_dictionaries({name: values[name] for name in chosen}))


def serializer_answer(spec, data):
    serializer = get_spec(spec.name).input_serializer(data=data, partial=True)
    if serializer.is_valid():
        return True, dict(serializer.validated_data)
    return False, serializer.errors


def assert_same_values(fast, slow):
    assert list(fast) == list(slow)
    for name, value in fast.items():
        assert value == slow[name], name
        assert type(value) is type(slow[name]), name
        if isinstance(value, datetime):
            assert value.utcoffset() == slow[name].utcoffset(), name


@pytest.mark.parametrize("spec_name", SPEC_NAMES)
def test_every_record_type_compiles(spec_name):
    """No type silently loses its fast path (a new rule the compiler cannot read shows here)."""
    assert compile_plan(get_spec(spec_name).input_serializer()) is not None


@pytest.mark.parametrize("spec_name", SPEC_NAMES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_the_compiled_validator_accepts_the_serializer_accepts_with_equal_values(spec_name, data):
    spec = get_spec(spec_name)
    plan = compile_plan(spec.input_serializer())
    record = data.draw(records(spec_name))
    fast = fast_parse(plan, record)
    if fast is None:
        return  # the serializer decides: parse_fields' answer is the serializer's by construction
    accepted, slow = serializer_answer(spec, record)
    assert accepted, (record, slow)
    assert_same_values(fast, slow)


def test_it_engages_for_what_clients_send(field):
    """The canonical values a phone sends (the field app, the bench's engagements, edge cases of each kind)
    take the compiled path, values equal to the serializer's."""
    spec = get_spec("engagement")
    plan = compile_plan(spec.input_serializer())
    samples = [engagement_fields(i) for i in range(50)]
    samples.append(
        {
            "origin": "911_dispatch",
            "cad_number": "  P26-0000001 ",
            "received_at": "2026-12-01T10:00:00.123456-08:00",
            "on_scene_at": "2026-12-01T18:07:00Z",
            "eligible": None,
            "persons": [{"alias": "Ünïcode", "age_band": "35_44", "initials": "J.D."}],
            "supplies": {"water": 3},
            "next_follow_up_due": "2026-12-01",
            "notes": "Emoji 🚐 and a\nnewline.",
        }
    )
    for sample in samples:
        fast = fast_parse(plan, sample)
        assert fast is not None, sample
        accepted, slow = serializer_answer(spec, sample)
        assert accepted
        assert_same_values(fast, slow)
    assert fast["cad_number"] == "P26-0000001"
    assert fast["received_at"] == datetime(2026, 12, 1, 18, 0, 0, 123456, tzinfo=UTC)


def test_references_and_decimals_go_through_their_own_fields(field):
    """Foreign keys are looked up (an unknown id is the serializer's to reject, with its message) and decimals
    quantized exactly as the serializer does."""
    spec = get_spec("engagement")
    plan = compile_plan(spec.input_serializer())
    shift = record_create(
        spec=get_spec("shift"),
        ctx=WriteContext(actor=field.responder, audit=False),
        data={"call_sign": "MACRO 31", "started_at": "2026-12-01T08:00:00Z"},
        record_id=uuid.uuid4(),
    ).instance
    assert fast_parse(plan, {"shift": str(uuid.uuid4())}) is None
    values = fast_parse(plan, {"latitude": "37.804363", "longitude": "-122.2711"})
    assert values == {"latitude": Decimal("37.804363"), "longitude": Decimal("-122.271100")}
    assert fast_parse(plan, {"shift": str(shift.pk)})["shift"] == shift


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"origin": "on_view", "notes": " "}, None),
        ({"origin": "nope"}, "invalid_choice"),
        ({"origin": "on_view", "needs": ["housing", "housing"]}, "duplicate_item"),
        ({"origin": "on_view", "supplies": {"water": 2.0}}, None),
        ({"origin": "on_view", "received_at": "2026-12-01T10:00:00"}, None),
        ({"origin": "on_view", "persons": [{"alias": "A", "extra": 1}]}, "unknown_field"),
        ({"origin": "on_view", "cad_number": 12345}, None),
    ],
)
def test_parse_fields_answers_as_the_serializer_does(field, fields, code):
    """The public entry point: referred values get the serializer's acceptance or its error codes."""
    spec = get_spec("engagement")
    serializer = spec.input_serializer(data=fields)
    if code is None:
        assert serializer.is_valid(), serializer.errors
        assert wire.parse_fields(spec, fields, partial=False) == dict(serializer.validated_data)
    else:
        assert not serializer.is_valid()
        with pytest.raises(wire.ValidationError) as caught:
            wire.parse_fields(spec, fields, partial=False)
        codes = {e.code for errors in caught.value.error_dict.values() for e in errors}
        assert code in codes


def test_a_late_timestamp_keeps_its_zone_rule():
    """DRF converts an aware timestamp to the current zone; so does the compiled path."""
    spec = get_spec("engagement")
    plan = compile_plan(spec.input_serializer())
    sent = (datetime(2026, 12, 1, 23, 30, tzinfo=UTC) + timedelta(hours=1)).isoformat()
    fast = fast_parse(plan, {"received_at": sent})
    accepted, slow = serializer_answer(spec, {"received_at": sent})
    assert accepted
    assert_same_values(fast, slow)


PATTERN_SAMPLES = [
    "2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00.5-08:00",
    "yesterday",
    "J.D.",
    "JD1",
    "",
    str(uuid.UUID(int=7)),
]


def valid_sample(schema):
    return next(value for value, ok in boundary_cases(schema) if ok)


def boundary_cases(schema):
    """(value, valid) at each edge a JSON schema of backend/validators.py draws: every keyword's last valid
    value and first invalid one."""
    if "enum" in schema:
        return [(schema["enum"][0], True), (schema["enum"][-1], True), ("not_a_choice", False), (1, False)]
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            top = schema.get("maxLength", 10**6)
            return [(s, bool(re.search(schema["pattern"], s)) and len(s) <= top) for s in PATTERN_SAMPLES]
        top = schema.get("maxLength", 50)
        return [("a" * top, True), ("é" * top, True), ("a" * (top + 1), False), (5, False)]
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        cases = [(0 if lo is None else lo, True), (2**31 if hi is None else hi, True), (True, False), ("1", False)]
        return cases + [(edge, False) for edge in (None if lo is None else lo - 1, None if hi is None else hi + 1)]
    if kind == "array":
        item_cases = boundary_cases(schema["items"])
        cases = [([value], ok) for value, ok in item_cases]
        valid_items = [value for value, ok in item_cases if ok]
        top = schema.get("maxItems")
        if schema.get("uniqueItems"):
            cases.append(([valid_items[0], valid_items[0]], False))
            if schema["items"].get("type") == "integer":
                valid_items = list(range(top or 3))
            elif "enum" in schema["items"]:
                valid_items = schema["items"]["enum"]
        if top is not None:
            filler = (valid_items * (top + 1))[: top + 1]
            if not schema.get("uniqueItems") or len(set(filler)) == top + 1:
                cases.append((filler, False))
            cases.append((filler[:top], not schema.get("uniqueItems") or len(set(filler[:top])) == top))
        return cases + [("[]", False)]
    if kind == "object" and "propertyNames" in schema:
        keys = schema["propertyNames"]["enum"]
        return [({keys[0]: v}, ok) for v, ok in boundary_cases(schema["additionalProperties"])] + [
            ({"not_a_key": valid_sample(schema["additionalProperties"])}, False),
            ([], False),
        ]
    if kind == "object":
        props, required = schema["properties"], schema.get("required", [])
        base = {name: valid_sample(props[name]) for name in required}
        cases = [(base, True), ({**base, "extra": 1}, False), ("{}", False)]
        for name in required:
            cases.append(({k: v for k, v in base.items() if k != name}, False))
        for name, sub in props.items():
            cases += [({**base, name: v}, ok) for v, ok in boundary_cases(sub)]
        return cases
    raise AssertionError(f"no boundary cases for {schema}")


def json_fields():
    for spec in ordered_specs():
        for name, f in spec.input_serializer().fields.items():
            for v in f.validators:
                if isinstance(v, JSONShapeValidator):
                    yield pytest.param(spec.name, name, v.schema, id=f"{spec.name}.{name}")


@pytest.mark.parametrize("spec_name, name, schema", list(json_fields()))
def test_every_json_schema_edge_is_judged_as_the_serializer_judges_it(spec_name, name, schema):
    """Each keyword's edges: the last valid value is accepted on the compiled path with the serializer's
    values, the first invalid one is left to the serializer, which rejects it."""
    spec = get_spec(spec_name)
    plan = compile_plan(spec.input_serializer())
    for value, valid in boundary_cases(schema):
        accepted, slow = serializer_answer(spec, {name: value})
        assert accepted == valid, (value, slow)
        fast = fast_parse(plan, {name: value})
        if valid:
            assert fast is not None, value
            assert_same_values(fast, slow)
        else:
            assert fast is None, value
