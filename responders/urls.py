from django.urls import path

from . import views

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("devices", views.DeviceListView.as_view(), name="device-list"),
    path("devices/<uuid:device_id>/revoke", views.DeviceRevokeView.as_view(), name="device-revoke"),
]
