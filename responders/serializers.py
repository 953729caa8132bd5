from rest_framework import serializers

from .models import Device, Membership, Team


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    device_id = serializers.UUIDField(help_text="The app's device id, generated once per install.")
    device_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    platform = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    app_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    otp = serializers.RegexField(r"^\d{6,8}$", required=False, help_text="Second-factor code, when enrolled.")


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=200)


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    access_expires_at = serializers.DateTimeField()
    session_expires_at = serializers.DateTimeField()
    device_id = serializers.UUIDField(source="family.device_id")


class TeamOutput(serializers.ModelSerializer):
    program = serializers.CharField(source="program.code")

    class Meta:
        model = Team
        fields = ["id", "code", "name", "program"]


class MembershipOutput(serializers.ModelSerializer):
    program = serializers.CharField(source="program.code")
    team = TeamOutput(allow_null=True)

    class Meta:
        model = Membership
        fields = ["program", "team", "role"]


class DeviceOutput(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "platform",
            "app_version",
            "created_at",
            "last_seen_at",
            "approved_at",
            "revoked_at",
            "user",
        ]


class TeammateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    team = serializers.IntegerField()


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    memberships = MembershipOutput(many=True)
    teams = TeamOutput(many=True)
    teammates = TeammateOutput(many=True, help_text="People on your own teams (for a shift's crew).")
    device = DeviceOutput(allow_null=True)
