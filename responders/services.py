"""Writes for people, devices and sessions. Views, admin and commands call these."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions
from rest_framework_simplejwt.tokens import AccessToken

from audit.models import AuditEvent
from audit.services import audit_record
from backend.errors import Forbidden, RateLimited, Unauthenticated
from backend.network import client_address
from backend.throttling import check_login_rate

from .authentication import check_family_usable
from .models import Device, LoginFailure, Membership, Program, RefreshToken, Role, TokenFamily
from .selectors import SECOND_FACTOR_ROLES, memberships_for

User = get_user_model()

# Used to spend the same time on unknown usernames as on known ones.
_DUMMY_HASH = None


class AuthError(Unauthenticated):
    pass


@dataclass
class TokenPair:
    access: str
    refresh: str
    access_expires_at: object
    session_expires_at: object
    family: TokenFamily


def _hash_refresh(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def _issue_pair(family, now):
    raw = secrets.token_urlsafe(32)
    RefreshToken.objects.create(token_hash=_hash_refresh(raw), family=family, created_at=now)
    access = AccessToken.for_user(family.user)
    access["sid"] = str(family.id)
    access["did"] = str(family.device_id)
    # Never outlive the session it belongs to.
    if access["exp"] > int(family.expires_at.timestamp()):
        access.set_exp(claim="exp", from_time=family.expires_at, lifetime=timedelta(0))
    return TokenPair(
        access=str(access),
        refresh=raw,
        access_expires_at=datetime.fromtimestamp(access["exp"], tz=UTC),
        session_expires_at=family.expires_at,
        family=family,
    )


def _check_second_factor(user, otp, request):
    """The code, when the person has a confirmed authenticator: a TOTP code or an unused recovery code.

    Returns the django-otp device that verified it, or None when none is needed."""
    needs = any(m.role in SECOND_FACTOR_ROLES for m in memberships_for(user)) or user.is_superuser
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True)) if needs else []
    if not devices:
        return None
    if not otp:
        raise AuthError("otp_required", "Enter the code from your authenticator app.")
    verified = next((d for d in devices if d.verify_token(str(otp))), None)
    recovery = None
    if verified is None:
        # A recovery code works once (django-otp's static device deletes the token it verifies).
        recovery = next(
            (d for d in StaticDevice.objects.filter(user=user, confirmed=True) if d.verify_token(str(otp).strip())),
            None,
        )
    if verified is None and recovery is None:
        audit_record(action=AuditEvent.Action.OTP_FAILED, actor=user, request=request)
        raise AuthError("otp_invalid", "That code is not valid.")
    if recovery is not None:
        audit_record(
            action=AuditEvent.Action.RECOVERY_CODE_USED,
            actor=user,
            request=request,
            remaining=recovery.token_set.count(),
        )
        return recovery
    audit_record(action=AuditEvent.Action.OTP_VERIFIED, actor=user, request=request)
    return verified


def _failure_key(username, request):
    """The lockout key: a username (known or not) from one client address."""
    text = f"{username if isinstance(username, str) else ''}\x00{client_address(request) or 'unknown'}"
    return hashlib.sha256(text.encode()).hexdigest()


def _check_not_locked(key, user, request, now):
    """429 account_locked while this username is locked for this address (the same for unknown usernames)."""
    locked_until = LoginFailure.objects.filter(key=key).values_list("locked_until", flat=True).first()
    if locked_until and locked_until > now:
        audit_record(
            action=AuditEvent.Action.LOGIN_LOCKED,
            object_type="user" if user else "",
            object_id=user.pk if user else "",
            request=request,
        )
        raise RateLimited(
            "account_locked",
            "Too many failed attempts; try again later.",
            extra={"retry_after": int((locked_until - now).total_seconds()) + 1},
        )


def _record_failure(key, user, request, now):
    """Count a failure under a row lock (concurrent failures all count) and lock at the threshold.

    A lock that has expired starts the count again; one quiet day forgets earlier locks (the backoff).
    """
    with transaction.atomic():
        LoginFailure.objects.get_or_create(key=key)
        row = LoginFailure.objects.select_for_update().get(key=key)
        if row.last_failure_at and now - row.last_failure_at > timedelta(days=1):
            row.failures, row.locks = 0, 0
        if row.locked_until and row.locked_until <= now:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failure_at = now
        already_locked = row.locked_until is not None and row.locked_until > now  # attempts raced the lock
        if row.failures >= settings.LOGIN_MAX_FAILURES and not already_locked:
            seconds = min(settings.LOGIN_LOCKOUT_SECONDS * 2**row.locks, settings.LOGIN_LOCKOUT_MAX_SECONDS)
            row.locked_until = now + timedelta(seconds=seconds)
            row.locks += 1
        row.save()
    if user is None:
        audit_record(action=AuditEvent.Action.LOGIN_FAILED, request=request, reason="unknown_user")
    else:
        audit_record(
            action=AuditEvent.Action.LOGIN_FAILED, actor=None, object_type="user", object_id=user.pk, request=request
        )


def login_failures_purge(now=None):
    """Forget failure counts a day old whose lock (if any) has ended: they would be reset at the next attempt
    anyway (_record_failure), and unknown usernames would otherwise pile up. Returns how many were removed."""
    now = now or timezone.now()
    stale = LoginFailure.objects.filter(last_failure_at__lt=now - timedelta(days=1)).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )
    return stale.delete()[0]


def check_credentials(*, username, password, otp=None, request=None):
    """The one check of who is signing in, for the API, the supervisor pages and the admin alike.

    Lockout, password, active account and second factor, each failure audited. Returns (user, the TOTP device
    that verified the code or None). Raises AuthError or DomainError (account_locked, 429).
    """
    global _DUMMY_HASH
    now = timezone.now()
    user = User.objects.filter(username=username).first() if isinstance(username, str) else None
    key = _failure_key(username, request)
    _check_not_locked(key, user, request, now)
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or make_password("not-a-real-password")
        User(password=_DUMMY_HASH).check_password(password)
        _record_failure(key, None, request, now)
        raise AuthError("invalid_credentials", "Wrong username or password.")
    if not user.check_password(password):
        _record_failure(key, user, request, now)
        raise AuthError("invalid_credentials", "Wrong username or password.")
    if not user.is_active:
        audit_record(
            action=AuditEvent.Action.LOGIN_FAILED,
            object_type="user",
            object_id=user.pk,
            request=request,
            reason="inactive",
        )
        raise AuthError("user_inactive", "This account is deactivated.")
    otp_device = _check_second_factor(user, otp, request)
    LoginFailure.objects.filter(key=key).delete()  # this address got it right: its failures are forgotten
    return user, otp_device


def login_succeeded(user, now=None):
    """Stamp the sign-in (the caller audits it)."""
    now = now or timezone.now()
    User.objects.filter(pk=user.pk).update(last_login=now)


def web_login(*, username, password, otp=None, request=None):
    """Sign in to the supervisor pages or the admin: the same checks, throttle and audit as the API login."""
    check_login_rate(request)
    user, otp_device = check_credentials(username=username, password=password, otp=otp, request=request)
    login_succeeded(user)
    audit_record(action=AuditEvent.Action.LOGIN, actor=user, request=request, channel="web")
    if otp_device is not None:
        user.otp_device = otp_device  # django-otp marks the session verified when Django logs the user in
    return user


class DevicePendingApproval(Forbidden):
    def __init__(self):
        super().__init__(
            "This phone is new for your account and waits for a program admin's approval. "
            "Ask your program admin, then sign in again.",
            code="device_pending_approval",
        )


def device_policy_for(user):
    """The new-device policy that applies to this person: the strictest of their programs' (admin approval
    wins); a person with no program (the superuser) may approve with their authenticator code."""
    policies = {m.program.device_policy for m in memberships_for(user)}
    if not policies or policies == {Program.DevicePolicy.SECOND_FACTOR}:
        return Program.DevicePolicy.SECOND_FACTOR
    return Program.DevicePolicy.ADMIN_APPROVAL


def _admit_device(device, user, otp_device, created, now, request):
    """Approve a pending device if the policy lets this sign-in do it; return whether it is approved.

    Order: an authenticator code (where the policy allows), then one of the person's allowed new devices.
    """
    if device.approved_at is not None:
        return True
    how = None
    if otp_device is not None and device_policy_for(user) == Program.DevicePolicy.SECOND_FACTOR:
        how = Device.Approval.SECOND_FACTOR
    elif User.objects.filter(pk=user.pk, new_devices_allowed__gt=0).update(
        new_devices_allowed=models.F("new_devices_allowed") - 1
    ):
        how = Device.Approval.ALLOWANCE
    if how is None:
        _audit_device(AuditEvent.Action.DEVICE_PENDING, device=device, actor=user, request=request, new_device=created)
        return False
    device.approved_at, device.approval = now, how
    device.save(update_fields=["approved_at", "approval"])
    _audit_device(AuditEvent.Action.DEVICE_APPROVED, device=device, actor=user, request=request, approval=how)
    return True


def _audit_device(action, *, device, actor, request, **detail):
    """One event about a phone, filed under its owner's program (when they have exactly one), so the program's
    admins find it in their audit trail beside the approval queue they work from."""
    programs = {m.program for m in memberships_for(device.user)}
    audit_record(
        action=action,
        actor=actor,
        device=device,
        program=programs.pop() if len(programs) == 1 else None,
        object_type="device",
        object_id=device.pk,
        request=request,
        **detail,
    )


def auth_login(*, username, password, device_id, device_name="", platform="", app_version="", otp=None, request=None):
    """Check credentials, register or recognise the device, and open a token family.

    A device that is not approved (docs/security.md, "New devices") is registered, shown to program admins
    as pending, and refused with 403 device_pending_approval: no session until it is approved.
    """
    now = timezone.now()
    user, otp_device = check_credentials(username=username, password=password, otp=otp, request=request)

    with transaction.atomic():
        device, created = Device.objects.select_for_update().get_or_create(
            pk=device_id,
            defaults={"user": user, "name": device_name, "platform": platform, "app_version": app_version},
        )
        if device.user_id != user.pk:
            raise Forbidden(
                "This device is registered to another responder; ask a program admin.",
                code="device_registered_to_another_user",
            )
        if device.revoked_at is not None:
            raise Forbidden("This device has been revoked.", code="device_revoked")
        device.name = device_name or device.name
        device.platform = platform or device.platform
        device.app_version = app_version or device.app_version
        device.last_seen_at = now
        device.save(update_fields=["name", "platform", "app_version", "last_seen_at"])
        approved = _admit_device(device, user, otp_device, created, now, request)
        if approved:
            login_succeeded(user, now)
            family = TokenFamily.objects.create(
                user=user,
                device=device,
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS),
            )
            pair = _issue_pair(family, now)
            audit_record(action=AuditEvent.Action.LOGIN, actor=user, device=device, request=request, new_device=created)
    if not approved:
        # Raised after the commit: the pending device stays registered, for the admin to see and approve.
        raise DevicePendingApproval()
    return pair


def auth_refresh(*, refresh, request=None):
    """Rotate a refresh token: single use, atomic, with reuse detection.

    The row lock makes concurrent presentations of one token queue up; the
    first rotates it, the rest find it used. A token presented again within
    REFRESH_REUSE_GRACE_SECONDS of its rotation is a client's duplicate send
    and is refused without ending the session; later reuse means the token
    leaked, and the whole family is revoked.
    """
    now = timezone.now()
    reused_family_id = None
    with transaction.atomic():
        token = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("family", "family__user", "family__device")
            .filter(token_hash=_hash_refresh(refresh or ""))
            .first()
        )
        if token is None:
            raise AuthError("token_invalid", "The refresh token is not valid.")
        family = token.family
        if token.used_at is not None:
            grace = timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS)
            if now - token.used_at > grace:
                reused_family_id = family.pk
            else:
                raise AuthError("token_already_used", "This refresh token was just used; use the new one.")
        else:
            try:
                check_family_usable(family, now)
            except exceptions.AuthenticationFailed as exc:
                # The refresh view has no authentication classes, so DRF would turn this into a 403.
                raise AuthError(exc.get_codes(), str(exc.detail)) from exc
            token.used_at = now
            token.save(update_fields=["used_at"])
            TokenFamily.objects.filter(pk=family.pk).update(last_used_at=now)
            family.last_used_at = now
            pair = _issue_pair(family, now)
            audit_record(
                action=AuditEvent.Action.TOKEN_REFRESH, actor=family.user, device=family.device, request=request
            )
            return pair
    # Outside the failed transaction, so the revocation itself commits.
    with transaction.atomic():
        TokenFamily.objects.filter(pk=reused_family_id, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason="refresh_reuse"
        )
        audit_record(
            action=AuditEvent.Action.TOKEN_REUSE,
            actor=family.user,
            device=family.device,
            request=request,
            family=str(reused_family_id),
        )
    raise AuthError("token_reused", "This refresh token was already used; the session has been ended.")


def auth_logout(*, family, request=None):
    with transaction.atomic():
        TokenFamily.objects.filter(pk=family.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason="logout"
        )
        audit_record(action=AuditEvent.Action.LOGOUT, actor=family.user, device=family.device, request=request)


def device_revoke(*, device, actor, request=None):
    """Revoke a lost or stolen device: its sessions end and its next request (sync included) gets 401.

    The person's allowance of new devices goes back to 0, so whoever holds the password cannot simply sign in
    on another phone: that phone waits for a program admin (docs/security.md, "New devices").
    """
    now = timezone.now()
    with transaction.atomic():
        Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=actor)
        User.objects.filter(pk=device.user_id).update(new_devices_allowed=0)
        TokenFamily.objects.filter(device=device, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason="device_revoked"
        )
        _audit_device(AuditEvent.Action.DEVICE_REVOKED, device=device, actor=actor, request=request)
    device.refresh_from_db()
    return device


def user_deactivate(*, user, actor, request=None):
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        TokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason="user_deactivated"
        )
        audit_record(
            action=AuditEvent.Action.USER_DEACTIVATED,
            actor=actor,
            object_type="user",
            object_id=user.pk,
            request=request,
        )
    user.refresh_from_db()
    return user


def device_approve(*, device, actor, request=None):
    """A program admin lets a pending device sync: the person signs in on it again and gets a session."""
    now = timezone.now()
    with transaction.atomic():
        updated = Device.objects.filter(pk=device.pk, approved_at__isnull=True, revoked_at__isnull=True).update(
            approved_at=now, approved_by=actor, approval=Device.Approval.ADMIN
        )
        if updated:
            _audit_device(
                AuditEvent.Action.DEVICE_APPROVED,
                device=device,
                actor=actor,
                request=request,
                approval=Device.Approval.ADMIN,
            )
    device.refresh_from_db()
    return device


def devices_allow(*, user, count, actor, request=None):
    """Let a person sign in on up to `count` new phones without waiting for approval (a replacement phone)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(new_devices_allowed=count)
        audit_record(
            action=AuditEvent.Action.DEVICES_ALLOWED,
            actor=actor,
            object_type="user",
            object_id=user.pk,
            request=request,
            count=count,
        )
    user.refresh_from_db()
    return user


def membership_audit(*, before, after, actor, request=None):
    """Audit a membership written by a program admin: added, moved to another team, or role/status changed.

    `before` is the row as it was (None for a new one). Ids and codes only (audit/models.py).
    """
    common = {"actor": actor, "program": after.program, "obj": after, "request": request, "user_id": after.user_id}
    if before is None:
        audit_record(
            action=AuditEvent.Action.MEMBERSHIP_ADDED,
            team_id=after.team_id,
            role=after.role,
            is_active=after.is_active,
            **common,
        )
        return
    if before.team_id != after.team_id:
        audit_record(
            action=AuditEvent.Action.MEMBERSHIP_MOVED, from_team_id=before.team_id, to_team_id=after.team_id, **common
        )
    changed = {
        name: [getattr(before, name), getattr(after, name)]
        for name in ("role", "is_active", "program_id")
        if getattr(before, name) != getattr(after, name)
    }
    if changed:
        audit_record(action=AuditEvent.Action.MEMBERSHIP_CHANGED, changed=changed, **common)


def staff_status_sync(*, user):
    """A program admin signs in to the admin: is_staff follows an active program-admin role (the superuser's
    own flag is left alone), so a role given or ended in the admin opens or closes the door with it."""
    if user.is_superuser:
        return
    is_admin = Membership.objects.filter(user=user, role=Role.PROGRAM_ADMIN, is_active=True).exists()
    User.objects.filter(pk=user.pk).exclude(is_staff=is_admin).update(is_staff=is_admin)


def second_factor_reset(*, user, actor, request=None):
    """A program admin clears a person's authenticator app and recovery codes (a lost phone): the person signs in
    with the password alone and sets the app up again. Their web sessions that were verified with it end."""
    with transaction.atomic():
        totp = TOTPDevice.objects.filter(user=user).delete()[0]
        static = StaticDevice.objects.filter(user=user).delete()[0]
        audit_record(
            action=AuditEvent.Action.OTP_RESET,
            actor=actor,
            object_type="user",
            object_id=user.pk,
            request=request,
            removed=totp + static,
        )
