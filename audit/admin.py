from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody edits the trail through the application."""

    list_display = ("at", "action", "actor", "device", "program", "object_type", "object_id")
    list_filter = ("action", "program")
    search_fields = ("object_id",)
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
