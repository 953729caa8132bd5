"""Rate limits keyed on the client address from backend.network (never on a header the client may forge).

The counts live in the default cache, which is shared by every process (Redis when REDIS_URL is set, the
database cache otherwise; see docs/configuration.md), so four workers do not give four times the limit.
"""

from rest_framework import throttling

from .network import client_address


class _ClientAddress:
    def get_ident(self, request):
        return client_address(request) or "unknown"


class AnonRateThrottle(_ClientAddress, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_ClientAddress, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_ClientAddress, throttling.ScopedRateThrottle):
    pass


class LoginThrottle(_ClientAddress, throttling.SimpleRateThrottle):
    """Sign-in attempts (API login and refresh, supervisor pages, admin) per client address: one budget."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def check_login_rate(request):
    """For sign-ins outside DRF (the pages and the admin): the LoginThrottle's count, or 429 rate_limited."""
    # backend.errors imports DRF's views, which load this module through the REST settings: a cycle at import.
    from .errors import RateLimited  # noqa: PLC0415 - see above

    if request is None:
        return
    throttle = LoginThrottle()
    if not throttle.allow_request(request, None):
        wait = throttle.wait()
        raise RateLimited(
            "rate_limited",
            "Too many sign-in attempts; wait and try again.",
            extra={"retry_after": int(wait or 60) + 1},
        )
