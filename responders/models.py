import uuid

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in: responder, coordinator, supervisor, admin or analyst.

    Roles are per program, on Membership. Failed sign-ins are counted on LoginFailure, per username and
    client address, not here: a lock on the account itself would let anyone lock anyone out.
    """

    new_devices_allowed = models.PositiveSmallIntegerField(
        _("new devices allowed without approval"),
        default=0,
        help_text=_(
            "How many new phones this person may sign in on before a program admin approves them, e.g. 1 when "
            "handing out a replacement phone. Each new phone uses one; revoking a device sets it back to 0."
        ),
    )

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")


class LoginFailure(models.Model):
    """Failed sign-ins of one username from one client address (docs/security.md, "Lockout").

    Keyed on a hash of both, whether or not the username exists, so an unknown username locks exactly as a
    known one does (no enumeration), and a lock earned from one address does not keep the person out from
    another. Each lock lasts twice as long as the one before (LOGIN_LOCKOUT_SECONDS doubling, at most
    LOGIN_LOCKOUT_MAX_SECONDS); the count starts again when a lock expires, and a success forgets the row.
    """

    key = models.CharField(_("key"), max_length=64, unique=True, help_text=_("sha256 of username and client address."))
    failures = models.PositiveIntegerField(_("failures"), default=0)
    locks = models.PositiveIntegerField(
        _("locks"), default=0, help_text=_("Locks so far: each lasts twice the one before.")
    )
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failure at"), null=True, blank=True)

    class Meta:
        verbose_name = _("login failure")
        verbose_name_plural = _("login failures")


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self):
        return self.name


class Program(models.Model):
    class Code(models.TextChoices):
        MACRO = "MACRO", _("Mobile Assistance Community Responders of Oakland")
        DVP = "DVP", _("Department of Violence Prevention")

    class DevicePolicy(models.TextChoices):
        ADMIN_APPROVAL = "admin_approval", _("A program admin approves every new device")
        SECOND_FACTOR = (
            "admin_or_second_factor",
            _("A code from the person's authenticator app approves it; otherwise a program admin"),
        )

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="programs", verbose_name=_("organization")
    )
    code = models.CharField(_("code"), max_length=16, choices=Code.choices)
    name = models.CharField(_("name"), max_length=120)
    allow_person_names = models.BooleanField(
        _("allow names of people"),
        default=False,
        help_text=_("Whether records may carry real names of people contacted (default: pseudonyms only)."),
    )
    device_policy = models.CharField(
        _("new device policy"),
        max_length=32,
        choices=DevicePolicy.choices,
        default=DevicePolicy.ADMIN_APPROVAL,
        help_text=_('What lets a new phone sync (docs/security.md, "New devices").'),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="program_code_unique_per_org")]
        ordering = ["organization_id", "code"]
        verbose_name = _("program")
        verbose_name_plural = _("programs")

    def __str__(self):
        return self.code


class Team(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="teams", verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=40, help_text=_("Short unit, van or zone code, e.g. 'van-3'."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="team_code_unique_per_program"),
            # The target of membership's composite foreign key (team_id, program_id): see Membership.
            models.UniqueConstraint(fields=["id", "program"], name="team_id_program_unique"),
        ]
        ordering = ["program_id", "code"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return f"{self.program.code}/{self.code}"


class Role(models.TextChoices):
    FIELD_RESPONDER = "field_responder", _("Field responder")
    COORDINATOR = "coordinator", _("Coordinator")
    SUPERVISOR = "supervisor", _("Supervisor")
    PROGRAM_ADMIN = "program_admin", _("Program admin")
    ANALYST = "analyst", _("Analyst")


class Membership(models.Model):
    """A user's one role in one program, optionally tied to one team.

    Without a team, the role covers the whole program (program admins,
    analysts, program-wide supervisors or coordinators).

    The team must belong to the membership's program: the records a person writes take their program from
    their team, so a MACRO membership on a DVP team would put that person's work behind the other wall.
    clean() says so in a form; on PostgreSQL a composite foreign key (team_id, program_id) referencing the
    team's unique (id, program_id) refuses it for every writer, and on SQLite triggers do
    (migration 0006_membership_team_in_its_program).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("person"))
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("program")
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships", verbose_name=_("team")
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "program"], condition=Q(is_active=True), name="one_active_role_per_program"
            ),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        where = self.team.code if self.team else _("whole program")
        return f"{self.user} · {self.get_role_display()} · {self.program}/{where}"

    def clean(self):
        if self.team_id is not None and self.program_id is not None and self.team.program_id != self.program_id:
            raise ValidationError(
                {
                    "team": ValidationError(
                        _("Team %(team)s belongs to %(team_program)s, not %(program)s."),
                        code="team_in_other_program",
                        params={"team": self.team.code, "team_program": self.team.program, "program": self.program},
                    )
                }
            )


class Device(models.Model):
    """A registered phone or tablet. A revoked device stops syncing at its next request.

    A new device is pending until approved (docs/security.md, "New devices"): by a program admin, by a code
    from the person's authenticator app where the program allows it, or by one of the person's
    new_devices_allowed. A pending device gets no session: sign-in answers 403 device_pending_approval.
    """

    class Approval(models.TextChoices):
        ADMIN = "admin", _("Approved by a program admin")
        SECOND_FACTOR = "second_factor", _("Approved by an authenticator code at sign-in")
        ALLOWANCE = "allowance", _("One of the person's new devices allowed without approval")
        REGISTERED_BEFORE_POLICY = "before_policy", _("Registered before devices needed approval")

    id = models.UUIDField(primary_key=True, help_text=_("Generated by the app on first launch."))
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="devices", verbose_name=_("person"))
    name = models.CharField(_("name"), max_length=120, blank=True)
    platform = models.CharField(_("platform"), max_length=40, blank=True)
    app_version = models.CharField(_("app version"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("revoked by")
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("approved by")
    )
    approval = models.CharField(_("approved how"), max_length=16, choices=Approval.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("device")
        verbose_name_plural = _("devices")

    def __str__(self):
        return f"{self.name or self.id} ({self.user})"

    @property
    def is_approved(self):
        return self.approved_at is not None

    @property
    def is_revoked(self):
        return self.revoked_at is not None


class TokenFamily(models.Model):
    """One sign-in on one device: every refresh token rotated from it shares the family.

    The family has an absolute lifetime (a shift) and an idle limit; reuse of
    an already-rotated refresh token revokes it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_families")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="token_families")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)


class RefreshToken(models.Model):
    """A single-use refresh token; only its SHA-256 is stored."""

    token_hash = models.CharField(max_length=64, primary_key=True)
    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)
