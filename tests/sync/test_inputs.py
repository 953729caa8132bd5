"""The refusals of the input serializers (sync/inputs.py, reports/inputs.py, backend/inputs.py): each input
answers with the code and message the docs name, read in the order documented, never a generic
validation_error."""

import pytest
from django.conf import settings

from backend.errors import DomainError, TooLarge
from backend.inputs import InputSerializer, Parsed
from sync.inputs import PullQuery, PushEnvelope, PushHead
from sync.models import QuarantinedPush
from tests.support import ON_VIEW, mutation


def refusal(response):
    body = response.json()
    return response.status_code, body["code"], body["message"]


def test_push_envelope_refusals(field):
    api = field.api(field.responder)
    url = "/api/v1/sync/push"
    assert refusal(api.post(url, [1, 2], format="json")) == (
        400,
        "invalid_push",
        "The body is an object with protocol and mutations.",
    )
    assert refusal(api.post(url, {"mutations": []}, format="json"))[:2] == (400, "protocol_required")
    assert refusal(api.post(url, {"protocol": "one", "mutations": []}, format="json")) == (
        400,
        "protocol_required",
        "protocol must be an integer.",
    )
    not_a_list = api.post(url, {"protocol": 1, "mutations": {"seq": 1}}, format="json")
    assert refusal(not_a_list) == (400, "invalid_push", "mutations must be a list.")
    assert not_a_list.json()["fields"] == {"mutations": [{"code": "wrong_type", "message": "Expected a list."}]}
    too_many = [mutation(i + 1, fields=ON_VIEW) for i in range(settings.SYNC_MAX_PUSH_MUTATIONS + 1)]
    big = api.post(url, {"protocol": 1, "mutations": too_many}, format="json")
    assert big.status_code == 413 and big.json()["code"] == "batch_too_large"
    assert big.json()["limit"] == settings.SYNC_MAX_PUSH_MUTATIONS


def test_a_push_in_an_old_protocol_is_kept_before_its_mutations_are_read(field):
    """The protocol is read first: a push this server cannot read is kept whole, whatever its mutations hold."""
    api = field.api(field.responder)
    old = api.post("/api/v1/sync/push", {"protocol": 0, "app_version": "0.9", "mutations": "lost?"}, format="json")
    assert old.status_code == 426 and old.json()["quarantined"] is True
    kept = QuarantinedPush.objects.get(device=api.device)
    assert (kept.protocol, kept.app_version, kept.body["mutations"]) == ("0", "0.9", "lost?")


def test_pull_query_refusals(field):
    api = field.api(field.responder)
    url = "/api/v1/sync/pull"
    assert refusal(api.get(url, {"protocol": 1, "limit": "ten"})) == (400, "invalid_limit", "limit must be an integer.")
    assert refusal(api.get(url, {"protocol": 1, "limit": 0})) == (400, "invalid_limit", "limit must be at least 1.")
    assert refusal(api.get(url, {"protocol": 1, "cursor": "x" * 8193}))[:2] == (400, "invalid_cursor")
    # An unsupported protocol answers 426 before the rest is read.
    assert api.get(url, {"protocol": 99, "limit": "ten"}).status_code == 426
    assert api.get(url, {"protocol": 1, "limit": 2}).status_code == 200


def test_report_and_cad_input_refusals(field):
    api = field.api(field.supervisor)
    period = api.get("/api/v1/reports/engagements", {"program": "MACRO", "start": "2026-03-01", "end": "2026-02-01"})
    assert refusal(period) == (400, "invalid_period", "start and end are dates (YYYY-MM-DD), start before end.")
    assert refusal(api.post("/api/v1/reports/cad-calls", {"program": "MACRO", "csv": 7}, format="json")) == (
        400,
        "invalid_csv",
        "csv is the file's text.",
    )
    assert refusal(api.post("/api/v1/reports/cad-calls", {"program": "CITY", "csv": ""}, format="json"))[:2] == (
        400,
        "invalid_program",
    )
    ranged = api.get("/api/v1/public/stats", {"end": "2026-02-30"})
    assert refusal(ranged)[:2] == (400, "invalid_date"), "an impossible date is named as such first"
    ranged = api.get("/api/v1/public/stats", {"start": "2026-01-01", "year": "26"})
    assert refusal(ranged)[:2] == (400, "invalid_period")
    assert ranged.json()["fields"] == {"start": [{"code": "not_published", "message": "Ranges are not published."}]}
    assert refusal(api.get("/api/v1/public/stats", {"year": "26"}))[:2] == (400, "invalid_date")


def _first(value, name):
    if not value:
        raise DomainError("first_missing", f"{name} is required.")
    return int(value)


def _second(value, name):
    if value == "big":
        raise TooLarge("second_too_large", f"{name} is too large.")
    return value


class _Ordered(InputSerializer):
    first = Parsed(_first)
    second = Parsed(_second)


def test_input_fields_are_read_in_order_and_the_first_refusal_answers():
    with pytest.raises(DomainError) as first:
        _Ordered.parse({"second": "big"})
    assert first.value.code == "first_missing"
    with pytest.raises(TooLarge):
        _Ordered.parse({"first": "1", "second": "big"})
    assert _Ordered.parse({"first": "2"}) == {"first": 2, "second": None}


def test_a_body_that_is_not_an_object():
    """An input with `not_an_object` refuses a list with its own code; one without reads it as an empty object
    (so here the protocol is missing)."""
    with pytest.raises(DomainError) as refused:
        PushHead.parse(["protocol", 1])
    assert refused.value.code == "invalid_push"
    with pytest.raises(DomainError) as empty:
        PullQuery.parse(["protocol", 1])
    assert empty.value.code == "protocol_required"
    assert PushEnvelope.parse({"protocol": "1", "mutations": []}) == {"protocol": 1, "app_version": "", "mutations": []}
