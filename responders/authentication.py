"""Access tokens bound to a device and a token family, checked on every request.

A JWT alone would stay valid after a device is revoked or a user
deactivated; so each request also checks the user, the device and the
family (one indexed join), which makes revocation take effect at once.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from .models import Device, TokenFamily


class DeviceRequest(Request):
    """For type checking only: a request DeviceJWTAuthentication signed in carries the device it came from."""

    device: Device

# Writing last_used_at on every request would turn every read into a write;
# the idle limit is measured in hours, so a minute of slack is harmless.
IDLE_TOUCH_INTERVAL = timedelta(seconds=60)


class DeviceJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        try:
            token = self.get_validated_token(raw)
        except (InvalidToken, TokenError) as exc:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or expired.", code="token_invalid"
            ) from exc
        family_id = token.get("sid")
        if not family_id:
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.", code="token_invalid")
        try:
            family = TokenFamily.objects.select_related("user", "device").get(pk=family_id)
        except (TokenFamily.DoesNotExist, ValueError, exceptions.ValidationError) as exc:
            raise exceptions.AuthenticationFailed("The session has ended.", code="session_ended") from exc
        check_family_usable(family)
        now = timezone.now()
        if now - family.last_used_at > IDLE_TOUCH_INTERVAL:
            TokenFamily.objects.filter(pk=family.pk).update(last_used_at=now)
        user = family.user
        user.current_device = family.device
        user.current_family = family
        request.device = family.device
        return user, token


def check_family_usable(family, now=None):
    """Raise 401 with a precise code if this session can no longer be used."""
    now = now or timezone.now()
    if not family.user.is_active:
        raise exceptions.AuthenticationFailed("This account is deactivated.", code="user_inactive")
    if family.device.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This device has been revoked.", code="device_revoked")
    if family.device.approved_at is None:
        # Sign-in gives a pending device no session; this holds the line for any session made another way.
        # backend.errors loads DRF's views, which read the REST settings that name this module: a cycle at import.
        from backend.errors import Forbidden  # noqa: PLC0415

        raise Forbidden("This phone waits for a program admin's approval.", code="device_pending_approval")
    if family.revoked_at is not None:
        raise exceptions.AuthenticationFailed("The session has ended.", code="session_ended")
    if now >= family.expires_at:
        raise exceptions.AuthenticationFailed("The session reached its maximum length.", code="session_expired")
    if now - family.last_used_at > timedelta(seconds=settings.SESSION_IDLE_SECONDS):
        raise exceptions.AuthenticationFailed("The session was idle too long.", code="session_idle")


class DeviceJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "responders.authentication.DeviceJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
