import logging
import time

from django.conf import settings
from django.db import DataError, IntegrityError
from django.http import JsonResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from .errors import database_refusal, error_body


class RequestSizeLimitMiddleware:
    """Refuse oversized bodies before anything reads them (413, not a 500 or a slow parse)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("bad_request", "Content-Length is not a number."), status=400)
        if length > settings.MAX_REQUEST_BYTES:
            response = JsonResponse(
                error_body(
                    "request_too_large",
                    f"The body is larger than {settings.MAX_REQUEST_BYTES} bytes.",
                    limit=settings.MAX_REQUEST_BYTES,
                ),
                status=413,
            )
            # Answered before the headers middleware runs: say it here (an error may echo a request).
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """A strict CSP everywhere, and no caching of anything an API answers.

    API responses may carry personal data, so they are never stored by a
    browser or a proxy.
    """

    # The same everywhere, the admin and the API docs included: no inline script or style anywhere (the
    # docs page loads Swagger UI's init script as a file).
    CSP = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path
        response.setdefault("Content-Security-Policy", self.CSP)
        response.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        private = ("/api/", "/supervisor/", "/admin/", "/account/")
        if path.startswith(private) and not path.startswith(("/api/docs", "/api/schema")):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response


class DatabaseRefusalMiddleware:
    """Outside the API (the supervisor pages, the admin, public pages): a write or value the database refused
    answers 409 or 400 in the error shape, as the API does (backend/errors.py::database_refusal), not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (DataError, IntegrityError)):
            return None
        code, message, status = database_refusal(exception)
        return JsonResponse(error_body(code, message), status=status)


class AccessLogMiddleware:
    """One line per request at INFO on `backend.access`: method, path (no query string), status and duration in
    milliseconds. The request id rides on every line (backend/logging.py); no user, body or address is logged."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.logger = logging.getLogger("backend.access")

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response


class PageLanguageMiddleware:
    """English or Spanish on the people pages: the supervisor pages, the authenticator set-up and the admin.

    `?lang=es` (or `en`) chooses and is remembered in Django's language cookie; otherwise the cookie, then the
    browser's Accept-Language. The API is left alone: it answers in English, and the field app asks for its
    labels with `?lang=` (fieldapp/views.py). The reports pages choose the same way (reports/pages.py).
    """

    PREFIXES = ("/supervisor/", "/account/", "/admin/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.PREFIXES):
            return self.get_response(request)
        wanted = request.GET.get("lang")
        chosen = wanted in dict(settings.LANGUAGES)
        language = wanted if chosen else translation.get_language_from_request(request)
        if chosen and request.path.startswith("/admin/"):
            # The admin reads every query parameter as a list filter: it never sees this one.
            query = request.GET.copy()
            query.pop("lang")
            request.GET = query
        with translation.override(language):
            request.LANGUAGE_CODE = language
            response = self.get_response(request)
        if chosen:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response
