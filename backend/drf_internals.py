"""The DRF internals the hot paths lean on, in one place.

Both are private to DRF (3.18 here); tests/backend/test_drf_internals.py fails if an upgrade changes them, so
a change shows in the suite, not as stale validation results in production.

- A serializer caches what `is_valid()` found (`_validated_data`, `_errors`) and what `.data` rendered
  (`_data`). Sync validates every mutation; building a new serializer deep-copies its thirty-odd fields,
  which cost more than validating the values, so one instance per type and thread is re-armed instead.
- A serializer field keeps the keyword arguments it was built with (`_kwargs`, which DRF's own deepcopy
  uses). The API schema clones the input serializer's fields from them.
"""

# What Serializer.is_valid() and Serializer.data leave on the instance (rest_framework/serializers.py).
SERIALIZER_RESULT_ATTRS = ("_validated_data", "_errors", "_data")


def rearm_serializer(serializer, data, *, partial):
    """Make a used serializer validate `data` as if new: its cached results dropped, the new data set."""
    for attr in SERIALIZER_RESULT_ATTRS:
        serializer.__dict__.pop(attr, None)
    serializer.initial_data = data
    serializer.partial = partial
    return serializer


def field_init_kwargs(field):
    """The keyword arguments a serializer field was built with: `type(field)(**kwargs)` builds the same field."""
    return dict(field._kwargs)
