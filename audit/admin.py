from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody edits the trail through the application. A program admin reads their program's events."""

    list_display = ("at", "action", "actor", "device", "program", "object_type", "object_id")
    list_filter = ("action", "program")
    search_fields = ("object_id",)
    date_hierarchy = "at"

    def get_queryset(self, request):
        from responders.admin import admin_program_ids

        qs = super().get_queryset(request)
        ids = admin_program_ids(request)
        return qs if ids is None else qs.filter(program_id__in=ids)

    def has_module_permission(self, request):
        from responders.admin import admin_program_ids

        ids = admin_program_ids(request)
        return ids is None or bool(ids)

    def has_view_permission(self, request, obj=None):
        from responders.admin import admin_program_ids

        ids = admin_program_ids(request)
        if ids is None:
            return True
        return bool(ids) and (obj is None or obj.program_id in ids)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
