"""Setting up the authenticator app (TOTP) and recovery codes, for supervisors and program admins.

The page shows a QR code (segno, drawn on the server: no script) and the same secret as text, and keeps the
new django-otp TOTP device unconfirmed until the person types a code from it. Confirming marks this session
verified, issues ten single-use recovery codes (django-otp's static device) and shows them once. From then on
every sign-in of theirs, on the pages, the admin and the API, asks for a code (responders/services.py).
A program admin resets a lost app from the admin (UserAdmin action). Every step is audited.
"""

import base64

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from audit.services import audit_record

from . import selectors
from .web_auth import second_factor_satisfied

RECOVERY_CODES = 10
DEVICE_NAME = "authenticator app"


def _may_enrol(user):
    return user.is_superuser or any(m.role in selectors.SECOND_FACTOR_ROLES for m in selectors.memberships_for(user))


def _secret(device):
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def _issue_recovery_codes(user, request):
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
        audit_record(
            action=AuditEvent.Action.RECOVERY_CODES_ISSUED,
            actor=user,
            object_type="user",
            object_id=user.pk,
            request=request,
            count=len(codes),
        )
    return codes


@login_required(login_url="supervisor-login")
def two_factor(request):
    user = request.user
    if not _may_enrol(user):
        return render(request, "responders/two_factor_not_needed.html", status=403)
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None:
        if not second_factor_satisfied(request):
            return redirect(f"/supervisor/login/?next={request.path}")
        remaining = StaticToken.objects.filter(device__user=user).count()
        return render(request, "responders/two_factor_done.html", {"remaining": remaining})
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if pending is None:
        pending = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    error = None
    if request.method == "POST":
        code = (request.POST.get("code") or "").strip().replace(" ", "")
        allowed, _why = pending.verify_is_allowed()
        if code.isdigit() and pending.verify_token(code):
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user).exclude(pk=pending.pk).delete()
                pending.confirmed = True
                pending.save(update_fields=["confirmed"])
                audit_record(
                    action=AuditEvent.Action.OTP_ENROLLED,
                    actor=user,
                    object_type="user",
                    object_id=user.pk,
                    request=request,
                )
            otp_login(request, pending)  # this session gave the code: it stays open
            codes = _issue_recovery_codes(user, request)
            return render(request, "responders/two_factor_codes.html", {"codes": codes, "enrolled": True})
        audit_record(action=AuditEvent.Action.OTP_FAILED, actor=user, request=request, step="enrolment")
        if allowed:
            error = _("That code is not right. Check the time on your phone and type the newest code.")
        else:
            error = _("Too many wrong codes in a row: wait a few seconds, then type the newest code.")
    qr = segno.make(pending.config_url, error="m")
    context = {
        "qr": qr.svg_data_uri(scale=5, border=2),
        "secret": _secret(pending),
        "error": error,
    }
    return render(request, "responders/two_factor_setup.html", context, status=400 if error else 200)


@require_POST
@login_required(login_url="supervisor-login")
def recovery_codes(request):
    user = request.user
    if not _may_enrol(user):
        return render(request, "responders/two_factor_not_needed.html", status=403)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists() or not second_factor_satisfied(request):
        messages.error(request, _("Set up your authenticator app first."))
        return redirect("two-factor")
    codes = _issue_recovery_codes(user, request)
    return render(request, "responders/two_factor_codes.html", {"codes": codes, "enrolled": False})
