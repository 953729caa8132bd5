"""SyncJSONRenderer writes DRF's JSONRenderer's bytes, or lets DRF's renderer write them."""

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from backend.renderers import SyncJSONRenderer
from records.wire_rows import JSONFloat

AWKWARD_TEXT = "".join(chr(c) for c in range(0x21)) + '\x7f"\\/ é 🚐 \u2028 \u2029 \ufeff </script>'


def same(data, media_type=None):
    assert SyncJSONRenderer().render(data, media_type) == JSONRenderer().render(data, media_type)


def test_awkward_values_render_as_drf_renders_them():
    same({"text": AWKWARD_TEXT, AWKWARD_TEXT: [None, True, False, 0, -1, 2**63 - 1, -(2**63)]})
    same({"big": 2**64, "bigger": -(2**80)})  # beyond orjson: DRF's renderer
    same({"floats": [JSONFloat(x) for x in (1e16, 1e-7, 0.1, 2.0, -0.0, 1.5e300, 123456789.0)]})
    same({1: "integer key", None: "none key"})
    same({"when": dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC), "day": dt.date(2026, 12, 1)})
    same({"id": uuid.UUID(int=5), "amount": Decimal("1.50"), "tuple": (1, "a")})
    same({"nested": [[[{"a": [{}]}]], []]})
    same(None)
    same({"a": 1}, "application/json; indent=4")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False).map(JSONFloat)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_pull_like_value_renders_as_drf_renders_it(value):
    same({"changes": [value]})
