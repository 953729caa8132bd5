"""The DRF internals backend/drf_internals.py relies on still behave as it assumes (fails on a DRF change)."""

from rest_framework import serializers

from backend.drf_internals import SERIALIZER_RESULT_ATTRS, field_init_kwargs, rearm_serializer


class Sample(serializers.Serializer):
    name = serializers.CharField(max_length=5)
    count = serializers.IntegerField(required=False, min_value=0)


def test_a_rearmed_serializer_validates_new_data_as_a_new_one_would():
    serializer = Sample(data={"name": "toolong", "count": -1})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"name", "count"}

    rearm_serializer(serializer, {"name": "ok", "count": 3}, partial=False)
    assert serializer.is_valid(), serializer.errors
    assert dict(serializer.validated_data) == {"name": "ok", "count": 3}
    assert serializer.data == {"name": "ok", "count": 3}

    rearm_serializer(serializer, {"count": 2}, partial=True)
    assert serializer.is_valid(), serializer.errors
    assert dict(serializer.validated_data) == {"count": 2}

    rearm_serializer(serializer, {"count": "x"}, partial=True)
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"count"}


def test_every_result_a_serializer_caches_is_one_rearm_drops():
    serializer = Sample(data={"name": "ok"})
    before = set(vars(serializer))
    serializer.is_valid()
    _ = serializer.errors, serializer.validated_data, serializer.data
    cached = {name for name in set(vars(serializer)) - before if name.startswith("_")}
    # `_validators`: the serializer's own validators, the same whatever the data; everything else is a result.
    assert cached - {"_validators"} == set(SERIALIZER_RESULT_ATTRS)


def test_a_field_rebuilt_from_its_init_kwargs_is_the_same_field():
    field = serializers.CharField(max_length=7, required=False, allow_blank=True, help_text="h")
    kwargs = field_init_kwargs(field)
    assert kwargs == {"max_length": 7, "required": False, "allow_blank": True, "help_text": "h"}
    copy = type(field)(**{**kwargs, "read_only": True})
    assert (copy.max_length, copy.allow_blank, copy.help_text, copy.read_only) == (7, True, "h", True)
