"""The columns every synced record carries (see docs/sync-protocol.md).

The id is generated on the device. Device times are kept exactly as reported
and never used for ordering; the server's own clock and the sync change index
order everything.
"""

import uuid

from django.db import models
from django.utils import timezone


class SyncedRecord(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="Client-generated UUID.")
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("responders.Team", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    created_on_device = models.ForeignKey(
        "responders.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey("responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    app_version = models.CharField(max_length=40, blank=True, help_text="App version that last wrote the record.")
    form_version = models.CharField(max_length=40, blank=True, help_text="Form version the record was filled on.")
    device_created_at = models.DateTimeField(
        null=True, blank=True, help_text="Device clock at creation (kept, never trusted)."
    )
    device_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="Device clock at last edit (kept, never trusted)."
    )
    server_received_at = models.DateTimeField(
        default=timezone.now, editable=False, help_text="Server time of first receipt."
    )
    server_updated_at = models.DateTimeField(
        default=timezone.now, editable=False, help_text="Server time of last change."
    )
    version = models.PositiveIntegerField(default=1, editable=False, help_text="Server version, +1 on every change.")
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="Set when deleted (tombstone).")
    is_late = models.BooleanField(default=False, editable=False, help_text="Changed after its shift log was approved.")

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
