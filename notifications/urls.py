from django.urls import path

from . import views

urlpatterns = [
    path("notifications", views.InboxView.as_view(), name="notifications"),
    path("notifications/<int:notification_id>/read", views.MarkReadView.as_view(), name="notification-read"),
]
