"""Django admin for program admins: organisations, teams, people, roles and devices.

Field records are changed through the API or the supervisor pages, not here,
so every write keeps its version, change index and audit trail.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from . import services
from .models import Device, LoginFailure, Membership, Organization, Program, Team, User
from .web_auth import AdminSignInForm, second_factor_satisfied, with_status


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("program", "team", "role", "is_active")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "first_name", "last_name", "is_active", "last_login")
    readonly_fields = ("last_login", "date_joined")
    actions = ["deactivate"]

    @admin.action(description="Deactivate (ends their sessions at the next request)")
    def deactivate(self, request, queryset):
        for user in queryset:
            services.user_deactivate(user=user, actor=request.user, request=request)
        messages.success(request, f"Deactivated {queryset.count()} user(s).")


admin.site.register(Organization)


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Locks per username and address (hashed). Deleting a row lifts its lock."""

    list_display = ("key", "failures", "locks", "locked_until", "last_failure_at")
    readonly_fields = ("key", "failures", "locks", "locked_until", "last_failure_at")

    def has_add_permission(self, request):
        return False


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "organization", "allow_person_names")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "program", "is_active")
    list_filter = ("program",)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "name", "platform", "app_version", "last_seen_at", "revoked_at")
    list_filter = ("platform",)
    search_fields = ("user__username", "name")
    readonly_fields = ("id", "user", "created_at", "last_seen_at", "revoked_at", "revoked_by")
    actions = ["revoke"]

    @admin.action(description="Revoke (the device stops syncing at its next request)")
    def revoke(self, request, queryset):
        for device in queryset:
            services.device_revoke(device=device, actor=request.user, request=request)
        messages.success(request, f"Revoked {queryset.count()} device(s).")

    def has_add_permission(self, request):
        return False  # devices register themselves at sign-in


# The admin signs in through the API's service too (responders/web_auth.py): lockout, rate limit, second factor.
admin.site.login_form = AdminSignInForm
admin.site.login_template = "review/admin_login.html"
_admin_login = admin.site.login


def _login(request, extra_context=None):
    return with_status(request, _admin_login(request, extra_context))


admin.site.login = _login
_admin_has_permission = admin.site.has_permission


def _has_permission(request):
    # A session that began before its user's TOTP device was confirmed must sign in again, with the code.
    return _admin_has_permission(request) and second_factor_satisfied(request)


admin.site.has_permission = _has_permission
