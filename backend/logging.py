import logging
import re

from django_guid import get_guid

_SECRET = re.compile(
    r"(?i)(bearer\s+[A-Za-z0-9._\-]+|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"
    r"|(password|refresh|access|token|otp)(\"?\s*[:=]\s*\"?)[^\s\",&]+)"
)


class RedactingFilter(logging.Filter):
    """Last line of defence: strip tokens and passwords from any log line."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not break logging
            return True
        redacted = _SECRET.sub(
            lambda m: (m.group(2) + m.group(3) + "[redacted]") if m.group(2) else "[redacted]", message
        )
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RequestIdFilter(logging.Filter):
    """Every log line names its request (X-Request-ID, django-guid), or "-" outside one (a task names the request
    that queued it: django-guid's Celery integration carries the id over)."""

    def filter(self, record):
        record.request_id = get_guid() or "-"
        return True
