"""Signing in to the supervisor pages and the Django admin: the API's service, not a second way in.

Django's `authenticate()` reaches only ServiceBackend, which calls services.web_login: the same lockout,
password check, second factor (a confirmed TOTP device means the code is required), login rate limit and
audit as POST /api/v1/auth/login. The forms add the code field and show the service's reason.
"""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.errors import DomainError, RateLimited

from . import services

# What the forms say for each refusal (the API gives the same codes).
MESSAGES = {
    "invalid_credentials": _("Wrong username or password."),
    "otp_required": _("Enter the code from your authenticator app."),
    "otp_invalid": _("That code is not valid."),
    "account_locked": _("Too many failed attempts; try again later."),
    "rate_limited": _("Too many sign-in attempts; wait and try again."),
    "user_inactive": _("This account is deactivated."),
}


class ServiceBackend(ModelBackend):
    """The only authentication backend: every username-and-password sign-in goes through the service."""

    def authenticate(self, request, username=None, password=None, otp=None, **kwargs):
        if username is None or password is None:
            return None
        try:
            return services.web_login(username=username, password=password, otp=otp, request=request)
        except DomainError as exc:
            if request is not None:
                request.sign_in_error = exc
            return None


class SignInForm(AuthenticationForm):
    otp = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or password is None:
            raise forms.ValidationError(MESSAGES["invalid_credentials"], code="invalid_credentials")
        self.user_cache = authenticate(
            self.request, username=username, password=password, otp=self.cleaned_data.get("otp") or None
        )
        if self.user_cache is None:
            error = getattr(self.request, "sign_in_error", None)
            code = error.code if error is not None else "invalid_credentials"
            raise forms.ValidationError(MESSAGES.get(code, MESSAGES["invalid_credentials"]), code=code)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AdminSignInForm(SignInForm, AdminAuthenticationForm):
    """The admin's sign-in: the same service, and the account must be staff."""


def with_status(request, response):
    """A refused sign-in over its limit answers 429 with Retry-After, as the API does (not 200 with a form)."""
    error = getattr(request, "sign_in_error", None)
    if isinstance(error, RateLimited) and response.status_code == 200:
        response.status_code = 429
        if "retry_after" in error.extra:
            response["Retry-After"] = str(error.extra["retry_after"])
    return response


def second_factor_satisfied(request):
    """False for a session of someone who now has a confirmed TOTP device but did not give its code when this
    session signed in (it began before the device was confirmed): such a session must sign in again."""
    user = request.user
    if not user.is_authenticated:
        return True
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return True
    return not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
