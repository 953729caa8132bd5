"""What the sync protocol keeps: mutations, device push order, quarantined pushes, WatermelonDB checkpoints and shadows.

See docs/sync-protocol.md for how these make the invariants of sync.md hold.
"""


from django.db import models
from django.utils import timezone


class SyncHorizon(models.Model):
    """How far tombstones have been purged. A cursor behind it must resync from scratch (410)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    purged_below_txid = models.BigIntegerField(default=0)
    purged_at = models.DateTimeField(null=True, blank=True)



class DeviceSyncState(models.Model):
    """Per-device push order: the next sequence number the server will apply."""

    device = models.OneToOneField(
        "responders.Device", on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    next_seq = models.PositiveBigIntegerField(default=1)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)


class Mutation(models.Model):
    """One client mutation, recorded in the same transaction as its effect.

    The stored result is what a replay of the same mutation id gets back.
    Pending mutations wait for the device's earlier ones; rejected ones stay
    here (quarantine) with their reason until someone replays or dismisses them.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the device's earlier mutations"
        APPLIED = "applied", "Applied as sent"
        UNCHANGED = "unchanged", "Nothing to change: the record already held these values"
        MERGED = "merged", "Merged with concurrent changes"
        CONFLICT = "conflict", "Applied with conflicts kept for review"
        AMENDMENT = "amendment", "Became an amendment request (locked record)"
        REJECTED = "rejected", "Rejected (quarantined)"

    class Op(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    id = models.UUIDField(primary_key=True, help_text="Client mutation id.")
    device = models.ForeignKey("responders.Device", on_delete=models.PROTECT, related_name="mutations")
    user = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Device order; empty for server-side replays."
    )
    record_type = models.CharField(max_length=32)
    record_id = models.UUIDField()
    op = models.CharField(max_length=8, choices=Op.choices)
    base_version = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, help_text="The mutation as received.")
    status = models.CharField(max_length=12, choices=Status.choices)
    result = models.JSONField(default=dict)
    reason_code = models.CharField(max_length=48, blank=True)
    program = models.ForeignKey("responders.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    team = models.ForeignKey("responders.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    protocol = models.PositiveSmallIntegerField(default=1)
    app_version = models.CharField(max_length=40, blank=True)
    # Quarantine follow-up: a corrected replay, or a dismissal by a supervisor.
    replayed_as = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # A replay is applied on its author's behalf (`user` stays the author): who corrected and resent it.
    replayed_by = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="one_mutation_per_device_seq")]
        indexes = [
            models.Index(fields=["device", "status", "seq"]),
            # A merge base lays the device's own earlier edits of the record on its base version.
            models.Index(fields=["device", "record_id"], name="sync_mutation_device_record"),
            models.Index(fields=["status", "team"]),
        ]




class QuarantinedPush(models.Model):
    """A whole push the server could not read as a supported protocol: kept, never dropped."""

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey("responders.Device", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey("responders.User", on_delete=models.PROTECT, related_name="+")
    protocol = models.CharField(max_length=20, blank=True)
    app_version = models.CharField(max_length=40, blank=True)
    reason_code = models.CharField(max_length=48)
    body = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    replayed_at = models.DateTimeField(null=True, blank=True)


class WatermelonCheckpoint(models.Model):
    """Where a WatermelonDB pull left a device: the `timestamp` it was given is this row's id.

    WatermelonDB wants a plain positive number as `lastPulledAt`; the engine's position is a signed cursor that
    also carries the scope the device was synced for. The number stands for the cursor, kept here, and means
    nothing on another device.
    """

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey("responders.Device", on_delete=models.CASCADE, related_name="+")
    cursor = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # The latest checkpoint at which this device completed a push, as known when this checkpoint was made
    # (carried forward from the checkpoint pulled from). 0: none.
    pushed_through = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["device", "id"])]


class WatermelonShadow(models.Model):
    """What one WatermelonDB device holds of one record, so its next push merges against what it edited.

    WatermelonDB sends whole rows and no base version, and when a pull brings a record the device has edited it
    keeps the local columns on top of the server's row. `version`/`data`: the record as the device last got it
    (a pull: a version; a push: the values it sent). `prior_*`: the same before the pull of `checkpoint`, the
    base of an edit made before that pull.
    """

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey("responders.Device", on_delete=models.CASCADE, related_name="+")
    record_id = models.UUIDField()
    version = models.PositiveIntegerField(null=True)
    data = models.JSONField(null=True)
    prior_version = models.PositiveIntegerField(null=True)
    prior_data = models.JSONField(null=True)
    checkpoint = models.BigIntegerField(default=0)
    record_type = models.CharField(max_length=32, blank=True)
    # The device holds values the server did not take (a conflict, an amendment, a delete that was refused, a
    # replayed or dismissed rejection, a row pushed that differs from what the server then holds): the next pull
    # sends the record as the server has it. "held": the device still has the record (sent in `updated`).
    # "gone": it deleted it, perhaps without hearing the answer: listed in `deleted` by the pull of `checkpoint`,
    # then sent "back" in `created` by a pull from that checkpoint on. "held" and "back" are cleared once the
    # device pulls past the pull that sent the record.
    resend = models.CharField(max_length=4, blank=True, choices=[("held", "held"), ("gone", "gone"), ("back", "back")])
    # A rejected row: its fingerprint and the mutation that holds it in quarantine, so that the same row sent
    # again (WatermelonDB resends what was rejected at every sync) gets the same answer, not a new quarantine item.
    rejected_row = models.CharField(max_length=64, blank=True)
    rejected_mutation = models.UUIDField(null=True)
    # A deletion not yet listed to the device (WatermelonDB would destroy an unsynced edit with the record): the
    # checkpoint of the pull that held it back, and when. Listed once the device has completed a push since, or
    # after SYNC_WATERMELON_DELETE_GRACE_HOURS.
    delete_withheld_at = models.BigIntegerField(null=True)
    delete_withheld_since = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "record_id"], name="one_shadow_per_device_record")]
