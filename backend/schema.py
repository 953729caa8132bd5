"""The OpenAPI schema declares the error answers each operation can give, in the one error shape.

schemathesis checks status codes against these (tests/security/test_schemathesis.py), so an answer an
operation is not declared to give fails the suite. 500 is never declared.
"""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorOutput(serializers.Serializer):
    """Every 4xx and 5xx: a machine-readable code, a sentence for a person, field errors when there are some.
    Some answers add facts (retry_after, limit, supported_protocols)."""

    code = serializers.CharField(help_text="Machine-readable, e.g. validation_error, not_found, rate_limited.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text="{field: [{code, message}]}; empty when the error is not about a field.",
    )


PUBLIC_PATHS = ("/api/v1/public/stats",)
SIGN_IN_PATHS = ("/api/v1/auth/login", "/api/v1/auth/refresh")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class FieldRecordsAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self.error_answers().items():
            if code not in responses:
                answer = self._get_response_for_code(ErrorOutput, code, direction=direction)
                answer["description"] = description
                responses[code] = answer
        return responses

    def error_answers(self):
        path, method = self.path, self.method
        answers = {
            "400": "Bad input: validation_error (see fields), malformed_request, invalid_date, ...",
            "429": "Rate limited or locked out (Retry-After).",
            "503": "The database is unavailable, or the server is busy (Retry-After); nothing was applied.",
        }
        if path not in PUBLIC_PATHS:
            answers["401"] = "Not signed in, or the session, token or device is no longer valid."
            answers["403"] = "Your role may not do this, or this device is registered to someone else."
            answers["404"] = "No such object in your scope (the same answer as one that does not exist)."
        if method in WRITE_METHODS and path not in SIGN_IN_PATHS:
            answers["409"] = "Conflicts with the current state: an id in use, a locked record, a clash."
            answers["413"] = "The body is too large, or too many mutations in one push."
            answers["415"] = "The body is not JSON."
        if path.startswith("/api/v1/sync/"):
            answers["410"] = "The cursor is older than the tombstones kept: pull again without one."
            answers["426"] = "This app speaks a sync protocol the server no longer supports."
        return dict(sorted(answers.items()))
