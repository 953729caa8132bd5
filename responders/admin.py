"""Django admin for program admins: people, roles, teams and devices of their own program (docs/security.md,
"Program administration"); organisations and lockouts stay the superuser's.

Field records are changed through the API or the supervisor pages, not here,
so every write keeps its version, change index and audit trail.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from audit.models import AuditEvent
from audit.services import audit_record

from . import selectors, services
from .models import Device, LoginFailure, Membership, Organization, Program, Role, Team, User
from .web_auth import AdminSignInForm, second_factor_satisfied, with_status


def admin_program_ids(request):
    """Programs whose people, teams and devices this person administers; None for the superuser (all).

    A program admin (an active PROGRAM_ADMIN membership) administers that program and nothing else: the
    querysets below show only its people, teams and devices, and every write is checked against it.
    """
    if not hasattr(request, "_admin_program_ids"):
        user = request.user
        if user.is_active and user.is_superuser:
            request._admin_program_ids = None
        else:
            request._admin_program_ids = {
                m.program_id for m in selectors.memberships_for(user) if m.role == Role.PROGRAM_ADMIN
            }
    return request._admin_program_ids


def _changed_fields(message):
    """Field names from the admin's change message (never their values: the trail holds no personal data)."""
    fields = []
    for part in message or []:
        for verb in ("added", "changed", "deleted"):
            if verb in part:
                entry = part[verb]
                fields.append(
                    {verb: entry.get("name", ""), **({"fields": entry["fields"]} if "fields" in entry else {})}
                )
    return fields


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change and delete through the admin also lands in the audit trail, in the same transaction."""

    def _audit(self, request, action, obj, **detail):
        audit_record(
            action=action,
            actor=request.user,
            program=_program_of(obj) or _only_program(request),
            object_type=obj._meta.model_name,
            object_id=obj.pk,
            request=request,
            **detail,
        )

    def log_addition(self, request, obj, message):
        self._audit(request, AuditEvent.Action.ADMIN_ADD, obj, changes=_changed_fields(message))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, AuditEvent.Action.ADMIN_CHANGE, obj, changes=_changed_fields(message))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, AuditEvent.Action.ADMIN_DELETE, obj)
        return super().log_deletions(request, queryset)


def _only_program(request):
    """The program an admin acts for, when they run exactly one (so their program's trail shows the event)."""
    ids = admin_program_ids(request)
    return Program.objects.filter(pk=next(iter(ids))).first() if ids and len(ids) == 1 else None


def _program_of(obj):
    if isinstance(obj, Program):
        return obj
    program = getattr(obj, "program", None)
    if isinstance(program, Program):
        return program
    return None


class ProgramScopedAdmin(AuditedAdmin):
    """Open to program admins, within their programs; the superuser sees everything."""

    program_path = "program"  # how this model reaches its program, for get_queryset

    def _ids(self, request):
        return admin_program_ids(request)

    def _is_scoped_admin(self, request):
        ids = self._ids(request)
        return ids is None or bool(ids)

    def has_module_permission(self, request):
        return self._is_scoped_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_scoped_admin(request) and (obj is None or self.in_scope(request, obj))

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._is_scoped_admin(request)

    def has_delete_permission(self, request, obj=None):
        return self._ids(request) is None and super().has_delete_permission(request, obj)

    def in_scope(self, request, obj):
        ids = self._ids(request)
        return ids is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = self._ids(request)
        if ids is None:
            return qs
        return qs.filter(**{f"{self.program_path}__in": ids}).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = self._ids(request)
        if ids is not None:
            if db_field.remote_field.model is Program:
                kwargs["queryset"] = Program.objects.filter(pk__in=ids)
            elif db_field.remote_field.model is Team:
                kwargs["queryset"] = Team.objects.filter(program_id__in=ids).select_related("program")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        active = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or not data.get("is_active") or not data.get("program"):
                continue
            program = data["program"]
            if program.pk in active:
                raise ValidationError(
                    _("A person has one active role per program: %(program)s is given twice."),
                    code="one_active_role_per_program",
                    params={"program": program},
                )
            active[program.pk] = form


class MembershipInline(admin.StackedInline):  # stacked: a phone's width shows every field
    """The person's roles in the programs this admin runs (roles in other programs are not shown)."""

    model = Membership
    formset = MembershipFormSet
    extra = 0
    fields = ("program", "team", "role", "is_active")
    verbose_name = _("role in a program")
    verbose_name_plural = _("roles in programs")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("program", "team")
        ids = admin_program_ids(request)
        return qs if ids is None else qs.filter(program_id__in=ids)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = admin_program_ids(request)
        if ids is not None:
            if db_field.name == "program":
                kwargs["queryset"] = Program.objects.filter(pk__in=ids)
            elif db_field.name == "team":
                kwargs["queryset"] = Team.objects.filter(program_id__in=ids).select_related("program")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _scoped(self, request, obj=None):
        ids = admin_program_ids(request)
        return ids is None or bool(ids)

    def has_view_permission(self, request, obj=None):
        return self._scoped(request)

    def has_add_permission(self, request, obj=None):
        return self._scoped(request)

    def has_change_permission(self, request, obj=None):
        return self._scoped(request)

    def has_delete_permission(self, request, obj=None):
        return admin_program_ids(request) is None  # a role ends by unticking "active", which keeps its history


# A device's state (a context of its own: the reports' "Approved" counts shift logs, in the plural).
WAITING = pgettext_lazy("device status", "Waiting for approval")
APPROVED = pgettext_lazy("device status", "Approved")
REVOKED = pgettext_lazy("device status", "Revoked")


class DeviceStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", WAITING), ("active", APPROVED), ("revoked", REVOKED)]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(approved_at__isnull=True, revoked_at__isnull=True)
        if self.value() == "active":
            return queryset.filter(approved_at__isnull=False, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


def _program_users(ids):
    """People with a role (active or not) in these programs."""
    return User.objects.filter(memberships__program_id__in=ids)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ProgramScopedAdmin):
    """People. A program admin sees the people of their program and people with no role yet (just added),
    never the superuser, and changes only those whose roles are all in programs they run."""

    inlines = [MembershipInline]
    list_display = ("username", "first_name", "last_name", "roles", "is_active", "last_login")
    # Only the programs and teams of the people listed: another program's teams are not named to a program admin.
    list_filter = (
        "is_active",
        ("memberships__program", admin.RelatedOnlyFieldListFilter),
        ("memberships__team", admin.RelatedOnlyFieldListFilter),
        "memberships__role",
    )
    readonly_fields = ("last_login", "date_joined")
    actions = ["deactivate", "reset_second_factor", "allow_one_new_device"]
    program_admin_fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Access"), {"fields": ("is_active", "new_devices_allowed", "last_login", "date_joined")}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is not None and admin_program_ids(request) is not None:
            return self.program_admin_fieldsets
        return super().get_fieldsets(request, obj)

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request).prefetch_related("memberships__program", "memberships__team")
        ids = admin_program_ids(request)
        if ids is None:
            return qs
        in_program = Q(pk__in=_program_users(ids).values("pk")) | Q(memberships__isnull=True)
        return qs.filter(in_program).exclude(is_superuser=True).distinct()

    def has_change_permission(self, request, obj=None):
        if not self.has_view_permission(request, obj):
            return False
        ids = admin_program_ids(request)
        if obj is None or ids is None:
            return True
        # Someone who also has a role in another program is changed by both programs' admins together.
        return not obj.memberships.exclude(program_id__in=ids).exists()

    @admin.display(description=_("roles"))
    def roles(self, obj):
        return ", ".join(
            f"{m.get_role_display()} · {m.program.code}{' / ' + m.team.code if m.team else ''}"
            for m in obj.memberships.all()
            if m.is_active
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        before = {
            m.pk: m for m in Membership.objects.filter(pk__in=[f.instance.pk for f in formset.forms if f.instance.pk])
        }
        super().save_formset(request, form, formset, change)
        for saved in formset.new_objects + [obj for obj, _changed in formset.changed_objects]:
            services.membership_audit(before=before.get(saved.pk), after=saved, actor=request.user, request=request)
        services.staff_status_sync(user=form.instance)
        return None

    def _changeable(self, request, queryset):
        return [user for user in queryset if self.has_change_permission(request, user)]

    @admin.action(description=_("Deactivate (ends their sessions at the next request)"))
    def deactivate(self, request, queryset):
        users = self._changeable(request, queryset)
        for user in users:
            services.user_deactivate(user=user, actor=request.user, request=request)
        n = len(users)
        messages.success(request, ngettext("Deactivated %(n)d person.", "Deactivated %(n)d people.", n) % {"n": n})

    @admin.action(description=_("Reset the authenticator app (they set it up again at next sign-in)"))
    def reset_second_factor(self, request, queryset):
        users = self._changeable(request, queryset)
        for user in users:
            services.second_factor_reset(user=user, actor=request.user, request=request)
        n = len(users)
        messages.success(
            request,
            ngettext("Reset the authenticator app of %(n)d person.", "Reset the authenticator apps of %(n)d people.", n)
            % {"n": n},
        )

    @admin.action(description=_("Allow one new phone without approval (a replacement phone)"))
    def allow_one_new_device(self, request, queryset):
        users = self._changeable(request, queryset)
        for user in users:
            services.devices_allow(user=user, count=1, actor=request.user, request=request)
        n = len(users)
        messages.success(
            request,
            ngettext(
                "%(n)d person may sign in on one new phone without approval.",
                "%(n)d people may each sign in on one new phone without approval.",
                n,
            )
            % {"n": n},
        )


@admin.register(Membership)
class MembershipAdmin(ProgramScopedAdmin):
    """Who has which role on which team: the place to move someone between teams (audited as a move)."""

    list_display = ("user", "program", "team", "role", "is_active")
    list_filter = (
        ("program", admin.RelatedOnlyFieldListFilter),
        ("team", admin.RelatedOnlyFieldListFilter),
        "role",
        "is_active",
    )
    search_fields = ("user__username", "user__first_name", "user__last_name")
    list_select_related = ("user", "program", "team")
    fields = ("user", "program", "team", "role", "is_active")

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = self._ids(request)
        if db_field.name == "user" and ids is not None:
            in_program = Q(pk__in=_program_users(ids).values("pk")) | Q(memberships__isnull=True)
            kwargs["queryset"] = User.objects.filter(in_program).exclude(is_superuser=True).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        before = Membership.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        services.membership_audit(before=before, after=obj, actor=request.user, request=request)
        services.staff_status_sync(user=obj.user)


admin.site.register(Organization)


@admin.register(LoginFailure)
class LoginFailureAdmin(AuditedAdmin):
    """Locks per username and address (hashed). Deleting a row lifts its lock."""

    list_display = ("key", "failures", "locks", "locked_until", "last_failure_at")
    readonly_fields = ("key", "failures", "locks", "locked_until", "last_failure_at")

    def has_add_permission(self, request):
        return False


@admin.register(Program)
class ProgramAdmin(ProgramScopedAdmin):
    """A program admin sees their program and sets its new-device policy; the rest is the superuser's."""

    list_display = ("code", "name", "organization", "device_policy", "allow_person_names")
    program_path = "pk"

    def get_readonly_fields(self, request, obj=None):
        if admin_program_ids(request) is None:
            return ()
        return ("organization", "code", "name", "allow_person_names")

    def has_add_permission(self, request):
        return admin_program_ids(request) is None


@admin.register(Team)
class TeamAdmin(ProgramScopedAdmin):
    list_display = ("code", "name", "program", "is_active", "people")
    list_filter = (("program", admin.RelatedOnlyFieldListFilter), "is_active")

    def get_readonly_fields(self, request, obj=None):
        # Moving a team to another program would carry its people across the wall: the database refuses it.
        return ("program",) if obj is not None else ()

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(n_people=Count("memberships", filter=Q(memberships__is_active=True)))
        )

    @admin.display(description=_("people"), ordering="n_people")
    def people(self, obj):
        return obj.n_people


@admin.register(Device)
class DeviceAdmin(ProgramScopedAdmin):
    """Phones: pending ones wait for approval here; approve, or revoke a lost or stolen one."""

    list_display = ("label", "user", "status", "platform", "app_version", "last_seen_at", "created_at")
    list_filter = (DeviceStatusFilter, "platform")
    search_fields = ("user__username", "user__first_name", "user__last_name", "name")
    readonly_fields = (
        "id",
        "user",
        "platform",
        "app_version",
        "created_at",
        "last_seen_at",
        "approved_at",
        "approved_by",
        "approval",
        "revoked_at",
        "revoked_by",
    )
    fields = ("name",) + readonly_fields
    actions = ["approve", "revoke"]
    list_select_related = ("user",)

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        ids = self._ids(request)
        if ids is None:
            return qs
        return qs.filter(user__in=_program_users(ids).filter(memberships__is_active=True)).exclude(
            user__is_superuser=True
        )

    @admin.display(description=_("device"), ordering="name")
    def label(self, obj):
        return obj.name or str(obj.pk)[:8]

    @admin.display(description=_("status"))
    def status(self, obj):
        if obj.revoked_at:
            return REVOKED
        if obj.approved_at is None:
            return WAITING
        return APPROVED

    @admin.action(description=_("Approve (the person signs in on it again and it syncs)"))
    def approve(self, request, queryset):
        devices = [d for d in queryset if d.approved_at is None and d.revoked_at is None]
        for device in devices:
            services.device_approve(device=device, actor=request.user, request=request)
        n = len(devices)
        messages.success(request, ngettext("Approved %(n)d device.", "Approved %(n)d devices.", n) % {"n": n})

    @admin.action(description=_("Revoke (the device stops syncing at its next request)"))
    def revoke(self, request, queryset):
        devices = [d for d in queryset if d.revoked_at is None]
        for device in devices:
            services.device_revoke(device=device, actor=request.user, request=request)
        n = len(devices)
        messages.success(request, ngettext("Revoked %(n)d device.", "Revoked %(n)d devices.", n) % {"n": n})

    def has_add_permission(self, request):
        return False  # devices register themselves at sign-in


admin.site.site_header = _("Oakland field records · Administration")
admin.site.site_title = _("Field records admin")
admin.site.index_title = _("Your program's people, teams and devices")

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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, here beside the program scoping it uses (audit/ sits below responders/).

    Read-only: nobody edits the trail through the application. A program admin reads their program's events."""

    list_display = ("at", "action", "actor", "device", "program", "object_type", "object_id")
    list_filter = ("action", "program")
    search_fields = ("object_id",)
    date_hierarchy = "at"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ids = admin_program_ids(request)
        return qs if ids is None else qs.filter(program_id__in=ids)

    def has_module_permission(self, request):
        ids = admin_program_ids(request)
        return ids is None or bool(ids)

    def has_view_permission(self, request, obj=None):
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
