"""Domain errors carry no HTTP; the one exception handler gives each kind its status and the one error body."""

import inspect

from rest_framework.exceptions import APIException

from backend import errors


def kinds():
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.DomainError)]


def test_domain_errors_are_plain_exceptions_without_a_status():
    for kind in kinds():
        assert not issubclass(kind, APIException), kind
        assert not hasattr(kind, "status_code"), kind


def test_the_handler_answers_each_kind_with_its_status_and_the_error_body():
    expected = {
        errors.DomainError: 400,
        errors.NotFound: 404,
        errors.Forbidden: 403,
        errors.StateConflict: 409,
        errors.Unauthenticated: 401,
        errors.Gone: 410,
        errors.TooLarge: 413,
        errors.RateLimited: 429,
        errors.Unavailable: 503,
    }
    assert set(expected) == set(kinds())
    for kind, status in expected.items():
        if kind in (errors.NotFound, errors.Forbidden):
            exc = kind("Said to a person.", code="some_code")
        else:
            exc = kind("some_code", "Said to a person.", fields={"f": [{"code": "x", "message": "y"}]})
        response = errors.exception_handler(exc, {})
        assert response.status_code == status, kind
        assert response.data["code"] == "some_code"
        assert response.data["message"] == "Said to a person."
    assert errors.exception_handler(errors.Unauthenticated("c", "m"), {})["WWW-Authenticate"] == 'Bearer realm="api"'
    limited = errors.exception_handler(errors.RateLimited("rate_limited", "m", extra={"retry_after": 7}), {})
    assert limited["Retry-After"] == "7" and limited.data["retry_after"] == 7
