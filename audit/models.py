"""The append-only audit trail.

A separate app because every other app writes to it and none may change it:
the model refuses updates and deletes, and on PostgreSQL a trigger refuses
them too, so not even a raw UPDATE through the application's connection
can rewrite history.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "auth.login", _("Login")
        LOGIN_FAILED = "auth.login_failed", _("Failed login")
        LOGIN_LOCKED = "auth.login_locked", _("Login refused: account locked")
        TOKEN_REFRESH = "auth.refresh", _("Token refreshed")
        TOKEN_REUSE = "auth.refresh_reuse", _("Refresh token reused: family revoked")
        LOGOUT = "auth.logout", _("Logout")
        DEVICE_REVOKED = "auth.device_revoked", _("Device revoked")
        USER_DEACTIVATED = "auth.user_deactivated", _("User deactivated")
        OTP_VERIFIED = "auth.otp_verified", _("Second factor verified")
        OTP_FAILED = "auth.otp_failed", _("Second factor failed")
        OTP_ENROLLED = "auth.otp_enrolled", _("Authenticator app set up")
        OTP_RESET = "auth.otp_reset", _("Authenticator app reset by a program admin")
        RECOVERY_CODES_ISSUED = "auth.recovery_codes_issued", _("Recovery codes issued")
        RECOVERY_CODE_USED = "auth.recovery_code_used", _("Recovery code used to sign in")
        DEVICE_PENDING = "auth.device_pending", _("New device waiting for approval")
        DEVICE_APPROVED = "auth.device_approved", _("Device approved")
        DEVICES_ALLOWED = "auth.devices_allowed", _("New devices allowed without approval")
        ADMIN_ADD = "admin.add", _("Added in the admin")
        ADMIN_CHANGE = "admin.change", _("Changed in the admin")
        ADMIN_DELETE = "admin.delete", _("Deleted in the admin")
        MEMBERSHIP_ADDED = "people.membership_added", _("Role given in a program")
        MEMBERSHIP_CHANGED = "people.membership_changed", _("Role or status in a program changed")
        MEMBERSHIP_MOVED = "people.team_changed", _("Moved to another team")
        RECORD_READ = "record.read", _("Record read")
        RECORD_LIST = "record.list", _("Records listed")
        RECORD_CREATE = "record.create", _("Record created")
        RECORD_UPDATE = "record.update", _("Record updated")
        RECORD_DELETE = "record.delete", _("Record deleted")
        SYNC_PUSH = "sync.push", _("Sync push")
        SYNC_PULL = "sync.pull", _("Sync pull")
        CONFLICT_RESOLVED = "sync.conflict_resolved", _("Conflict resolved")
        MUTATION_REPLAYED = "sync.mutation_replayed", _("Quarantined mutation replayed")
        SHIFT_SUBMITTED = "shift.submitted", _("Shift log submitted")
        SHIFT_APPROVED = "shift.approved", _("Shift log approved")
        SHIFT_RETURNED = "shift.returned", _("Shift log returned")
        AMENDMENT_DECIDED = "shift.amendment_decided", _("Amendment decided")
        EXPORT = "report.export", _("Export")
        CAD_IMPORT = "report.cad_import", _("CAD import")

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("what"), max_length=40, choices=Action.choices, db_index=True)
    actor = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("who")
    )
    device = models.ForeignKey(
        "responders.Device", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("device")
    )
    program = models.ForeignKey(
        "responders.Program",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("program"),
    )
    object_type = models.CharField(_("object type"), max_length=40, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    # Never personal data: ids, codes and counts only.
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")
