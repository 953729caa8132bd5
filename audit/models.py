"""The append-only audit trail.

A separate app because every other app writes to it and none may change it:
the model refuses updates and deletes, and on PostgreSQL a trigger refuses
them too, so not even a raw UPDATE through the application's connection
can rewrite history.
"""

from django.db import models
from django.utils import timezone


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "auth.login", "Login"
        LOGIN_FAILED = "auth.login_failed", "Failed login"
        LOGIN_LOCKED = "auth.login_locked", "Login refused: account locked"
        TOKEN_REFRESH = "auth.refresh", "Token refreshed"
        TOKEN_REUSE = "auth.refresh_reuse", "Refresh token reused: family revoked"
        LOGOUT = "auth.logout", "Logout"
        DEVICE_REVOKED = "auth.device_revoked", "Device revoked"
        USER_DEACTIVATED = "auth.user_deactivated", "User deactivated"
        OTP_VERIFIED = "auth.otp_verified", "Second factor verified"
        OTP_FAILED = "auth.otp_failed", "Second factor failed"
        OTP_ENROLLED = "auth.otp_enrolled", "Authenticator app set up"
        OTP_RESET = "auth.otp_reset", "Authenticator app reset by a program admin"
        RECOVERY_CODES_ISSUED = "auth.recovery_codes_issued", "Recovery codes issued"
        RECOVERY_CODE_USED = "auth.recovery_code_used", "Recovery code used to sign in"
        DEVICE_PENDING = "auth.device_pending", "New device waiting for approval"
        DEVICE_APPROVED = "auth.device_approved", "Device approved"
        DEVICES_ALLOWED = "auth.devices_allowed", "New devices allowed without approval"
        ADMIN_ADD = "admin.add", "Added in the admin"
        ADMIN_CHANGE = "admin.change", "Changed in the admin"
        ADMIN_DELETE = "admin.delete", "Deleted in the admin"
        MEMBERSHIP_ADDED = "people.membership_added", "Role given in a program"
        MEMBERSHIP_CHANGED = "people.membership_changed", "Role or status in a program changed"
        MEMBERSHIP_MOVED = "people.team_changed", "Moved to another team"
        RECORD_READ = "record.read", "Record read"
        RECORD_LIST = "record.list", "Records listed"
        RECORD_CREATE = "record.create", "Record created"
        RECORD_UPDATE = "record.update", "Record updated"
        RECORD_DELETE = "record.delete", "Record deleted"
        SYNC_PUSH = "sync.push", "Sync push"
        SYNC_PULL = "sync.pull", "Sync pull"
        CONFLICT_RESOLVED = "sync.conflict_resolved", "Conflict resolved"
        MUTATION_REPLAYED = "sync.mutation_replayed", "Quarantined mutation replayed"
        SHIFT_SUBMITTED = "shift.submitted", "Shift log submitted"
        SHIFT_APPROVED = "shift.approved", "Shift log approved"
        SHIFT_RETURNED = "shift.returned", "Shift log returned"
        AMENDMENT_DECIDED = "shift.amendment_decided", "Amendment decided"
        EXPORT = "report.export", "Export"
        CAD_IMPORT = "report.cad_import", "CAD import"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    actor = models.ForeignKey("responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    device = models.ForeignKey("responders.Device", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Never personal data: ids, codes and counts only.
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")
