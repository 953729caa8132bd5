from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import Notification


class NotificationOutput(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "body", "object_type", "object_id", "created_at", "read_at"]


class InboxView(ListAPIView):
    """Your notifications, newest first. ?unread=true for unread only."""

    serializer_class = NotificationOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        qs = Notification.objects.filter(recipient=self.request.user).order_by("-created_at", "-id")
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.filter(read_at__isnull=True)
        return qs


class MarkReadView(APIView):
    @extend_schema(request=None, responses={200: NotificationOutput})
    def post(self, request, notification_id):
        notification = services.notification_mark_read(recipient=request.user, notification_id=notification_id)
        return Response(NotificationOutput(notification).data)
