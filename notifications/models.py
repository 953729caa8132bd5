"""An in-app inbox per user. Escalations that must reach a person even when every phone is offline land here
(and by email). The dedupe key makes a notification idempotent: a task run twice notifies once."""

from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        FOLLOW_UP_OVERDUE = "follow_up_overdue", "Follow-up contact overdue"
        CONTACT_RULE_MISSED = "contact_rule_missed", "Follow-up missing the contact rule"
        SHIFT_NOT_SUBMITTED = "shift_not_submitted", "Shift log not submitted"
        CONFLICT_WAITING = "conflict_waiting", "Sync conflict waiting for review"
        QUARANTINE_WAITING = "quarantine_waiting", "Rejected sync change waiting for review"
        SHIFT_RETURNED = "shift_returned", "Shift log returned with a comment"

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey("responders.User", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Never personal data: what happened, to which record (by id), and what to do.
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=2000, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return f"{self.kind} → {self.recipient_id}"
