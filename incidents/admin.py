"""Shift logs in the Django admin: to look at, never to change (writes go through the record services)."""

from django.contrib import admin

from .models import Shift


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ("call_sign", "team", "started_at", "ended_at", "review_status", "version")
    list_filter = ("review_status", "team")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
