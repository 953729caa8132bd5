"""What the record core keeps besides the records: versions, the change index, conflicts and amendments.

The tables keep the names they had when these models lived in the sync app (db_table), so moving the models
moved no data. See docs/dev/write-flow.md for how a write fills them.
"""

import uuid

from django.db import models
from django.utils import timezone


class RecordOp(models.TextChoices):
    """What a write does to a record (an amendment's op, a sync mutation's op)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Change(models.Model):
    """The latest change of one record as one team (a sync bucket) should see it.

    One row per (record, team): an edit moves the row to a new position in
    the change order; a record that leaves a team leaves a 'remove' row in
    that team's bucket. `txid` is the position: on PostgreSQL an xid8 set to
    the writing transaction's id (see migration 0002), read only below the
    oldest running transaction so the pull cursor never skips a late commit;
    on SQLite a counter (SQLite has one writer at a time, so commit order is
    counter order).
    """

    class Op(models.TextChoices):
        UPSERT = "upsert"
        DELETE = "delete"
        REMOVE = "remove"

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=32)
    record_id = models.UUIDField()
    team = models.ForeignKey("responders.Team", on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, related_name="+")
    op = models.CharField(max_length=8, choices=Op.choices)
    version = models.PositiveIntegerField()
    changed_at = models.DateTimeField(default=timezone.now)
    txid = models.BigIntegerField(null=True, editable=False)

    class Meta:
        db_table = "sync_change"
        constraints = [models.UniqueConstraint(fields=["record_id", "team"], name="one_change_row_per_record_team")]
        indexes = [models.Index(fields=["team", "txid", "id"], name="sync_change_team_pos")]


class SyncCounter(models.Model):
    """SQLite's change position counter (PostgreSQL uses transaction ids instead)."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "sync_synccounter"


class RecordVersion(models.Model):
    """Each version of each record as the server stored it: the base for three-way merges and the history."""

    id = models.BigAutoField(primary_key=True)
    record_type = models.CharField(max_length=32)
    record_id = models.UUIDField()
    version = models.PositiveIntegerField()
    data = models.JSONField()
    changed_fields = models.JSONField(default=list)
    author = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey("responders.Device", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    mutation_id = models.UUIDField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sync_recordversion"
        constraints = [models.UniqueConstraint(fields=["record_id", "version"], name="one_snapshot_per_record_version")]


class Conflict(models.Model):
    """A value that lost a field-level merge, kept for a person to resolve."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        KEEP_SERVER = "keep_server", "Keep the server's value"
        TAKE_INCOMING = "take_incoming", "Take the incoming value"
        CUSTOM = "custom", "A new value"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    record_type = models.CharField(max_length=32)
    record_id = models.UUIDField()
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("responders.Team", on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=64)
    policy = models.CharField(max_length=16)
    base_version = models.PositiveIntegerField(null=True, blank=True)
    server_version = models.PositiveIntegerField()
    base_value = models.JSONField(null=True)
    server_value = models.JSONField(null=True, help_text="The value kept (first in server order).")
    incoming_value = models.JSONField(null=True, help_text="The value that lost.")
    server_author = models.ForeignKey("responders.User", on_delete=models.PROTECT, null=True, related_name="+")
    incoming_author = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    mutation = models.ForeignKey(
        "sync.Mutation", on_delete=models.PROTECT, null=True, blank=True, related_name="conflicts"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    resolved_value = models.JSONField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sync_conflict"
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["team", "status"]), models.Index(fields=["record_id"])]


class Amendment(models.Model):
    """A change to a record on an approved shift log, waiting for a supervisor."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    record_type = models.CharField(max_length=32)
    record_id = models.UUIDField()
    op = models.CharField(max_length=8, choices=RecordOp.choices)
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("responders.Team", on_delete=models.PROTECT, related_name="+")
    shift = models.ForeignKey("incidents.Shift", on_delete=models.PROTECT, related_name="amendments")
    mutation = models.ForeignKey("sync.Mutation", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    base_version = models.PositiveIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey("responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sync_amendment"
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["team", "status"])]
