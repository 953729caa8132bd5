from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.throttling import LoginThrottle

from . import selectors, services
from .serializers import DeviceOutput, LoginInput, MeOutput, RefreshInput, TokenPairOutput


class LoginView(APIView):
    """Sign in on a device: a short-lived access token and a single-use refresh token."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=LoginInput, responses={200: TokenPairOutput}, auth=[])
    def post(self, request):
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.auth_login(**data.validated_data, request=request)
        return Response(TokenPairOutput(pair).data)


class RefreshView(APIView):
    """Trade a refresh token for a new pair. Each refresh token works once."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=RefreshInput, responses={200: TokenPairOutput}, auth=[])
    def post(self, request):
        data = RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.auth_refresh(refresh=data.validated_data["refresh"], request=request)
        return Response(TokenPairOutput(pair).data)


class LogoutView(APIView):
    """End this device's session: its refresh and access tokens stop working."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.auth_logout(family=request.user.current_family, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who am I: user, roles per program, visible teams, the people on my own teams, and this device."""

    @extend_schema(responses={200: MeOutput})
    def get(self, request):
        user = request.user
        teams = selectors.readable_teams(user)
        body = {
            "id": user.id,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "memberships": selectors.memberships_for(user),
            "teams": teams,
            "teammates": selectors.teammates(user),
            "device": getattr(user, "current_device", None),
        }
        return Response(MeOutput(body).data)


class DeviceListView(ListAPIView):
    """Devices of the responders this supervisor or program admin manages, and the caller's own."""

    serializer_class = DeviceOutput

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.serializer_class.Meta.model.objects.none()
        return selectors.manageable_devices(self.request.user)


class DeviceRevokeView(APIView):
    """Revoke a device (lost, stolen, replaced). Supervisors and program admins, or the owner."""

    @extend_schema(request=None, responses={200: DeviceOutput})
    def post(self, request, device_id):
        device = get_object_or_404(selectors.manageable_devices(request.user), pk=device_id)
        device = services.device_revoke(device=device, actor=request.user, request=request)
        return Response(DeviceOutput(device).data)


def healthz(request):
    """Liveness with a database round trip; 503 when the database does not answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
