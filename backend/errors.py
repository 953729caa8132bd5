"""One error shape for every 4xx and 5xx the API answers.

    {"code": "machine_readable", "message": "For a person.", "fields": {"name": [{"code": ..., "message": ...}]}}

Services raise `DomainError` or one of its kinds (plain exceptions with a code, no HTTP in them) or Django's
ValidationError; `exception_handler` maps each kind to its status (HTTP_STATUS). Views never build their own
error bodies.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain said no: a stable machine-readable code, a message for a person, field errors.

    Free of HTTP: the kind of refusal is the class (below), and `exception_handler` alone turns it into a
    status (HTTP_STATUS). The base class itself is a refusal of the input (400).
    """

    default_message = "The request could not be applied."

    def __init__(self, code, message=None, *, fields=None, extra=None):
        self.code = code
        self.message = message or self.default_message
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(self.message)


class NotFound(DomainError):
    """The object does not exist, or is outside the asker's scope (the same answer, so existence never leaks)."""

    def __init__(self, message="Not found.", code="not_found"):
        super().__init__(code, message)


class Forbidden(DomainError):
    """The asker's role does not allow this."""

    def __init__(self, message="You do not have permission to do this.", code="permission_denied", *, fields=None):
        super().__init__(code, message, fields=fields)


class StateConflict(DomainError):
    """The object's state forbids it now (already decided, deleted, locked, an id already used)."""


class Unauthenticated(DomainError):
    """The credentials are missing, wrong or spent."""


class Gone(DomainError):
    """What the client holds is too old to continue from (a cursor behind the purge horizon)."""


class TooLarge(DomainError):
    """The request carries more than the server takes at once."""


class RateLimited(DomainError):
    """Too many attempts; `extra["retry_after"]` says when to try again."""


class Unavailable(DomainError):
    """The server cannot take this now; retry after `extra["retry_after"]`."""


# The one place a domain refusal becomes an HTTP status (docs/api.md lists the codes and their statuses).
HTTP_STATUS = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    StateConflict: status.HTTP_409_CONFLICT,
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    Gone: status.HTTP_410_GONE,
    TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    DomainError: status.HTTP_400_BAD_REQUEST,
}


def http_status(exc):
    """The status a domain error answers with: its nearest class in HTTP_STATUS."""
    return next(HTTP_STATUS[cls] for cls in type(exc).__mro__ if cls in HTTP_STATUS)


# Codes for DRF's built-in exceptions, so the client never has to parse prose.
_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def _field_errors(detail):
    """Flatten DRF's nested error detail into {field: [{code, message}]}."""

    def items(value):
        if isinstance(value, list):
            out = []
            for v in value:
                if isinstance(v, (dict, list)):
                    out.append(_field_errors(v) if isinstance(v, dict) else items(v))
                else:
                    out.append({"code": getattr(v, "code", "invalid"), "message": str(v)})
            return out
        if isinstance(value, dict):
            return _field_errors(value)
        return [{"code": getattr(value, "code", "invalid"), "message": str(value)}]

    return {str(k): items(v) for k, v in detail.items()}


def django_validation_error_fields(exc):
    """Django ValidationError -> {field: [{code, message}]} (non-field errors under "non_field_errors")."""
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [
                {"code": e.code or "invalid", "message": " ".join(e.messages)} for e in errors
            ]
            for field, errors in exc.error_dict.items()
        }
    return {
        "non_field_errors": [{"code": e.code or "invalid", "message": " ".join(e.messages)} for e in exc.error_list]
    }


def error_body(code, message, fields=None, **extra):
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return body


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        return Response(
            error_body("validation_error", "Some fields are not valid.", django_validation_error_fields(exc)),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError):
        return _database_error_response(exc)
    if isinstance(exc, DomainError):
        return _domain_error_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _field_errors(detail)
        else:
            fields = {"non_field_errors": _field_errors({"x": detail})["x"]}
        response.data = error_body("validation_error", "Some fields are not valid.", fields)
        return response
    return _drf_error_response(exc, response)


def _database_error_response(exc):
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away (restart, killed connection). The request's
        # transaction was rolled back; the client may retry.
        logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
        return Response(
            error_body("service_unavailable", "The database is unavailable; retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, (DataError, IntegrityError)):
        code, message, status_code = database_refusal(exc)
        return Response(error_body(code, message), status=status_code)
    return None


def _domain_error_response(exc):
    body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return Response(body, status=http_status(exc), headers=headers)


def _drf_error_response(exc, response):
    """DRF's own exceptions (parse errors, authentication, throttling...) in the one error body."""
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
    if code is None:
        detail_code = exc.get_codes() if hasattr(exc, "get_codes") else None
        code = detail_code if isinstance(detail_code, str) else "error"
    elif code in {"authentication_failed", "not_authenticated"}:
        detail_code = exc.get_codes()
        if isinstance(detail_code, str) and detail_code not in {"authentication_failed", "not_authenticated"}:
            code = detail_code
    message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else "Request failed."
    extra = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = int(exc.wait) + 1
        response["Retry-After"] = str(int(exc.wait) + 1)
    response.data = error_body(code, message, **extra)
    return response


def database_refusal(exc):
    """(code, message, status) for a value or a write the database refused after the validators let it through.

    Still the client's input (a value out of range, a unique value another request took a moment earlier), so
    a 4xx, never a 500. The request's transaction was rolled back: nothing of it was written.
    """
    logger.warning("database refused the request: %s", type(exc).__name__)
    if isinstance(exc, IntegrityError):
        return (
            "integrity_error",
            "The change clashes with data already stored (a value that must be unique?); nothing was written.",
            status.HTTP_409_CONFLICT,
        )
    return "invalid_value", "A value is out of the range the server can store.", status.HTTP_400_BAD_REQUEST


def json_error_response(request, status_code, code, message):
    return JsonResponse(error_body(code, message), status=status_code)


def handler400(request, exception=None):
    return json_error_response(request, 400, "bad_request", "The request could not be understood.")


def handler403(request, exception=None):
    return json_error_response(request, 403, "permission_denied", "You do not have permission to do this.")


def handler404(request, exception=None):
    return json_error_response(request, 404, "not_found", "No such resource.")


def handler500(request):
    return json_error_response(request, 500, "server_error", "Something went wrong on our side.")
