"""The request body parser: msgspec first, DRF's parser for whatever msgspec refuses; the same data and the
same errors either way."""

import io
import json

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from backend.parsers import StrictJSONParser

BODIES = [
    b'{"a": 1, "a": 2}',
    b"123456789012345678901234567890",
    b'{"n": [1.0, -0.0, 1E2, 1.5e300, -7]}',
    b'{"text": "\\u00e9 \\ud83d\\ude90 caf\\u00e9", "raw": "\xc3\xa9"}',
    b'{"lone": "\\ud800"}',
    b"1e400",
    b"NaN",
    b'{"a": 1,}',
    b"",
    b'["\xff"]',
    b"\xef\xbb\xbf{}",
]


def parse(parser, body, context=None):
    try:
        return "ok", parser.parse(io.BytesIO(body), "application/json", context or {})
    except ParseError as exc:
        return "error", exc.detail


@pytest.mark.parametrize("body", BODIES)
def test_every_body_parses_as_drf_parses_it(body):
    """Values, their types (an integer beyond 64 bits stays an integer) and error messages."""
    outcome, got = parse(StrictJSONParser(), body)
    expected_outcome, expected = parse(JSONParser(), body)
    assert outcome == expected_outcome
    if outcome == "ok":
        assert json.dumps(got) == json.dumps(expected)
        assert type(got) is type(expected)
    else:
        assert str(got) == str(expected)


def test_another_charset_is_decoded_by_drf():
    body = '{"name": "caf\xe9"}'.encode("latin-1")
    assert parse(StrictJSONParser(), body, {"encoding": "latin-1"}) == ("ok", {"name": "café"})


def test_nul_and_depth_are_still_refused():
    assert parse(StrictJSONParser(), b'{"a": "x\\u0000"}')[0] == "error"
    assert parse(StrictJSONParser(), b"[" * 40 + b"]" * 40)[0] == "error"
