from typing import Any

from rest_framework import serializers

from records.models import Amendment, Conflict
from records.redaction import redact_amendment, redact_conflict, redact_mutation
from sync.models import Mutation


def _reader(serializer: serializers.BaseSerializer[Any]) -> Any:
    """The person the answer is for (field walls: records/redaction.py). None hides every restricted field."""
    request = serializer.context.get("request")
    return serializer.context.get("user") or getattr(request, "user", None)


class MutationInput(serializers.Serializer[Any]):
    """Documented shape; the engine reads each mutation itself so one bad mutation cannot fail the batch."""

    mutation_id = serializers.UUIDField(help_text="Client-generated id of this mutation (idempotency key).")
    seq = serializers.IntegerField(min_value=1, help_text="Per-device sequence number, 1, 2, 3 ... in edit order.")
    type = serializers.CharField(help_text="Record type: shift, engagement, incident, scene_response, ...")
    op = serializers.ChoiceField(choices=["create", "update", "delete"])
    id = serializers.UUIDField(help_text="The record's client-generated UUID.")
    base_version = serializers.IntegerField(required=False, min_value=1, help_text="Version the edit was based on.")
    fields = serializers.DictField(  # type: ignore[assignment]  # a field named "fields"
        required=False, help_text="Changed fields only (update) or all fields (create)."
    )
    team = serializers.IntegerField(required=False, help_text="Team id, on create when the user has several.")
    device_time = serializers.DateTimeField(required=False, help_text="Device clock at the edit (kept, not trusted).")
    form_version = serializers.CharField(required=False, max_length=40)


class PushInput(serializers.Serializer[Any]):
    protocol = serializers.IntegerField(help_text="Sync protocol version; this server speaks 1.")
    app_version = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")
    mutations = MutationInput(many=True)


class MutationResult(serializers.Serializer[Any]):
    mutation_id = serializers.UUIDField()
    seq = serializers.IntegerField(allow_null=True)
    type = serializers.CharField()
    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["applied", "unchanged", "merged", "conflict", "amendment", "rejected", "pending"],
    )
    duplicate = serializers.BooleanField(required=False, help_text="True when this is a replay's stored answer.")
    version = serializers.IntegerField(required=False)
    merged_fields = serializers.ListField(child=serializers.CharField(), required=False)
    conflicts = serializers.ListField(child=serializers.DictField(), required=False)
    amendment_id = serializers.UUIDField(required=False)
    waiting_for_seq = serializers.IntegerField(required=False)
    code = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    fields = serializers.DictField(  # type: ignore[assignment]  # a field named "fields"
        required=False
    )


class PushOutput(serializers.Serializer[Any]):
    protocol = serializers.IntegerField()
    results = MutationResult(many=True)
    next_seq = serializers.IntegerField(help_text="The next sequence number the server expects from this device.")
    server_time = serializers.DateTimeField()


class PullChange(serializers.Serializer[Any]):
    type = serializers.CharField()
    id = serializers.UUIDField()
    op = serializers.ChoiceField(choices=["upsert", "delete", "remove"])
    version = serializers.IntegerField(allow_null=True)
    record = serializers.DictField(required=False)


class PullOutput(serializers.Serializer[Any]):
    protocol = serializers.IntegerField()
    changes = PullChange(many=True)
    removed_teams = serializers.ListField(child=serializers.IntegerField())
    reset = serializers.BooleanField()
    cursor = serializers.CharField()
    has_more = serializers.BooleanField()
    behind = serializers.BooleanField(
        help_text="Committed changes wait behind a sync write still open: pull again after retry_after seconds."
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds, with behind: true.")
    server_time = serializers.DateTimeField()


class ConflictOutput(serializers.ModelSerializer[Conflict]):
    redacted = serializers.SerializerMethodField(
        help_text="True when the field is one your role may not see: its values are then null."
    )

    def get_redacted(self, obj: Conflict) -> bool:
        return False

    def to_representation(self, instance: Conflict) -> dict[str, Any]:
        return redact_conflict(super().to_representation(instance), instance, _reader(self))

    class Meta:
        model = Conflict
        fields = [
            "id",
            "record_type",
            "record_id",
            "team",
            "field",
            "policy",
            "base_version",
            "server_version",
            "base_value",
            "server_value",
            "incoming_value",
            "server_author",
            "incoming_author",
            "mutation",
            "status",
            "resolution",
            "resolved_value",
            "resolved_by",
            "resolved_at",
            "created_at",
            "redacted",
        ]


class ConflictResolveOutput(ConflictOutput):
    record_version = serializers.IntegerField(
        read_only=True, help_text="The record's version after the resolution (a new one when it changed the value)."
    )

    class Meta(ConflictOutput.Meta):
        fields = [*ConflictOutput.Meta.fields, "record_version"]


class ConflictResolveInput(serializers.Serializer[Any]):
    resolution = serializers.ChoiceField(choices=Conflict.Resolution.choices)
    value = serializers.JSONField(required=False, allow_null=True, help_text="The new value, for 'custom'.")


class QuarantineOutput(serializers.ModelSerializer[Mutation]):
    def to_representation(self, instance: Mutation) -> dict[str, Any]:
        return redact_mutation(super().to_representation(instance), instance, _reader(self))

    class Meta:
        model = Mutation
        fields = [
            "id",
            "device",
            "user",
            "seq",
            "record_type",
            "record_id",
            "op",
            "base_version",
            "payload",
            "status",
            "result",
            "reason_code",
            "team",
            "received_at",
            "processed_at",
        ]


class ReplayInput(serializers.Serializer[Any]):
    fields = serializers.DictField(  # type: ignore[assignment]  # a field named "fields"
        required=False, help_text="Corrected fields; omitted keeps the original ones."
    )
    base_version = serializers.IntegerField(required=False, min_value=1)


class AmendmentOutput(serializers.ModelSerializer[Amendment]):
    def to_representation(self, instance: Amendment) -> dict[str, Any]:
        return redact_amendment(super().to_representation(instance), instance, _reader(self))

    class Meta:
        model = Amendment
        fields = [
            "id",
            "record_type",
            "record_id",
            "op",
            "team",
            "shift",
            "mutation",
            "requested_by",
            "base_version",
            "changes",
            "status",
            "decided_by",
            "decided_at",
            "comment",
            "created_at",
        ]
