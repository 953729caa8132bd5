"""Field records: shift logs; MACRO engagements; DVP incidents, scene responses, follow-up cases, contact attempts.

Every model is a SyncedRecord (client UUID, program, team, author, device,
versions, device and server times). Validation that needs several fields
lives in clean(); services call full_clean() before every write.
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import pgettext_lazy

from backend import validators as v
from records.base import SyncedRecord

from . import choices as c

PERSON = v.obj(
    {
        "alias": v.text(60),
        "initials": {"type": "string", "maxLength": 4, "pattern": "^[A-Za-z.]{0,4}$"},
        "age_band": v.enum(c.AgeBand.choices),
        "name": v.text(120),
    },
)
PERSONS = v.list_of(PERSON, max_items=50)
REFERRAL = v.obj({"to": v.text(120), "kind": v.enum(c.ReferralKind.choices)}, required=("to", "kind"))


STATUS_TIMELINE = v.list_of(
    v.obj({"status": v.enum(c.UnitStatus.choices), "at": v.DATETIME}, required=("status", "at")), max_items=500
)
CALLS_OFFERED = v.list_of(
    v.obj(
        {
            "cad_number": v.text(40),
            "offered_at": v.DATETIME,
            "call_type": v.text(60),
            "decision": v.enum(c.CallDecision.choices),
            "decline_reason": v.text(200),
        },
        required=("cad_number", "decision"),
    ),
    max_items=200,
)


class Shift(SyncedRecord):
    """A crew's shift log: unit, crew, status timeline and dispatch offers.

    Review fields are server-owned: a crew submits, a supervisor approves or
    returns. An approved log locks itself and its records.
    """

    class ReviewStatus(models.TextChoices):
        # A context of their own: "Open" is also a follow-up case's status, and the reports count "Approved" logs.
        OPEN = "open", pgettext_lazy("shift review", "Open")
        SUBMITTED = "submitted", pgettext_lazy("shift review", "Submitted for review")
        RETURNED = "returned", pgettext_lazy("shift review", "Returned with a comment")
        APPROVED = "approved", pgettext_lazy("shift review", "Approved (locked)")

    call_sign = models.CharField(max_length=40, help_text="Vehicle or unit call sign.")
    crew = models.JSONField(
        default=list,
        blank=True,
        help_text="User ids of the crew members.",
        validators=[v.JSONShapeValidator(v.list_of({"type": "integer"}, 10, unique=True))],
    )
    started_at = models.DateTimeField(help_text="Shift start.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Shift end.")
    status_timeline = models.JSONField(
        default=list,
        blank=True,
        help_text="[{status, at}] with status one of the unit status codes.",
        validators=[v.JSONShapeValidator(STATUS_TIMELINE)],
    )
    calls_offered = models.JSONField(
        default=list,
        blank=True,
        help_text="[{cad_number, offered_at, call_type, decision: accepted|declined|pending, decline_reason}].",
        validators=[v.JSONShapeValidator(CALLS_OFFERED)],
    )
    notes = models.TextField(blank=True, max_length=10000)

    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN, editable=False
    )
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    review_comment = models.TextField(blank=True, editable=False)

    class Meta:
        db_table = "responders_shift"  # kept from when shifts lived in the responders app
        ordering = ["-started_at", "id"]
        indexes = [models.Index(fields=["team", "started_at"])]

    def __str__(self):
        return f"{self.call_sign} {self.started_at:%Y-%m-%d %H:%M}"

    def clean(self):
        errors = {}
        if self.ended_at and self.started_at and self.ended_at < self.started_at:
            errors["ended_at"] = [ValidationError("The shift ends before it starts.", code="times_out_of_order")]
        for offer in self.calls_offered or []:
            if (
                isinstance(offer, dict)
                and offer.get("decision") == c.CallDecision.DECLINED
                and not offer.get("decline_reason")
            ):
                errors["calls_offered"] = [
                    ValidationError("A declined call needs a reason.", code="decline_reason_required")
                ]
                break
        if errors:
            raise ValidationError(errors)

    @property
    def is_locked(self):
        return self.review_status == self.ReviewStatus.APPROVED


class LocationMixin(models.Model):
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text="GPS latitude (WGS84).",
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
        help_text="GPS longitude (WGS84).",
    )
    address = models.CharField(max_length=200, blank=True, help_text="Street address or landmark.")
    cross_street = models.CharField(max_length=200, blank=True, help_text="Nearest cross street.")
    beat = models.CharField(max_length=10, blank=True, help_text="Police beat, e.g. '04X' (the finest public grain).")

    class Meta:
        abstract = True

    def clean_location(self, errors):
        if (self.latitude is None) != (self.longitude is None):
            errors.setdefault("latitude", []).append(
                ValidationError("Latitude and longitude go together.", code="incomplete_location")
            )


def check_order(instance, names, errors, code="times_out_of_order"):
    """Each present time must be at or after every earlier present one."""
    previous = None
    for name in names:
        value = getattr(instance, name)
        if value is None:
            continue
        if previous is not None and value < getattr(instance, previous):
            errors.setdefault(name, []).append(ValidationError(f"{name} is before {previous}.", code=code))
        previous = name


def check_person_names(instance, errors, field="persons"):
    if instance.program_id and not instance.program.allow_person_names:
        if any(isinstance(p, dict) and p.get("name") for p in getattr(instance, field) or []):
            errors.setdefault(field, []).append(
                ValidationError("This program records people by alias or initials only.", code="names_not_allowed")
            )


class Engagement(LocationMixin, SyncedRecord):
    """One MACRO contact: dispatched or self-initiated (on-view)."""

    shift = models.ForeignKey(
        "incidents.Shift", on_delete=models.PROTECT, null=True, blank=True, related_name="engagements"
    )
    origin = models.CharField(max_length=24, choices=c.Origin.choices, help_text="How the work reached the crew.")
    cad_number = models.CharField(max_length=40, blank=True, help_text="CAD incident number when dispatched.")
    call_type = models.CharField(max_length=60, blank=True, help_text="CAD call type when dispatched.")
    priority = models.CharField(max_length=2, choices=c.Priority.choices, blank=True, help_text="CAD priority.")
    received_at = models.DateTimeField(null=True, blank=True, help_text="Call received (device time).")
    dispatched_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    eligible = models.BooleanField(null=True, blank=True, help_text="Whether the call met MACRO eligibility criteria.")
    needs = models.JSONField(default=list, blank=True, validators=[v.JSONShapeValidator(v.code_list(c.Need.choices))])
    persons = models.JSONField(
        default=list,
        blank=True,
        validators=[v.JSONShapeValidator(PERSONS)],
        help_text="People contacted: [{alias, initials, age_band}] (no names unless the program allows).",
    )
    services = models.JSONField(
        default=list, blank=True, validators=[v.JSONShapeValidator(v.code_list(c.Service.choices))]
    )
    supplies = models.JSONField(
        default=dict,
        blank=True,
        validators=[v.JSONShapeValidator(v.counts_by_code(c.Supply.choices, 500))],
        help_text="{supply code: count handed out}.",
    )
    referrals = models.JSONField(default=list, blank=True, validators=[v.JSONShapeValidator(v.list_of(REFERRAL, 20))])
    disposition = models.CharField(max_length=24, choices=c.Disposition.choices, blank=True)
    next_follow_up_due = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=10000)

    TIME_ORDER = ("received_at", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at")

    class Meta:
        ordering = ["-server_received_at", "id"]
        indexes = [
            models.Index(fields=["team", "origin"]),
            models.Index(fields=["cad_number"]),
            models.Index(fields=["program", "server_received_at"]),
        ]

    def clean(self):
        errors = {}
        if self.origin == c.Origin.DISPATCH_911 and not self.cad_number:
            errors["cad_number"] = [ValidationError("A 911 dispatch needs its CAD number.", code="cad_number_required")]
        check_order(self, self.TIME_ORDER, errors)
        self.clean_location(errors)
        check_person_names(self, errors)
        if self.shift_id and self.shift.team_id != self.team_id:
            errors.setdefault("shift", []).append(
                ValidationError("The shift belongs to another team.", code="wrong_team")
            )
        if errors:
            raise ValidationError(errors)


class Incident(LocationMixin, SyncedRecord):
    """A shooting, homicide or other violent event DVP responds to."""

    dvp_number = models.CharField(max_length=40, help_text="DVP's own incident id.")
    police_case_number = models.CharField(
        max_length=40, blank=True, help_text="Police case number (DVP coordinators only)."
    )
    kind = models.CharField(max_length=16, choices=c.IncidentKind.choices)
    occurred_at = models.DateTimeField()
    victims = models.JSONField(
        default=list,
        blank=True,
        validators=[
            v.JSONShapeValidator(
                v.list_of(
                    v.obj(
                        {"status": v.enum(c.VictimStatus.choices), "age_band": v.enum(c.AgeBand.choices)},
                        required=("status",),
                    ),
                    max_items=50,
                )
            )
        ],
        help_text="[{status: killed|injured, age_band}].",
    )
    notified_via = models.CharField(max_length=16, choices=c.NotificationSource.choices, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=10000)

    class Meta:
        ordering = ["-occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "dvp_number"],
                condition=models.Q(deleted_at__isnull=True),
                name="dvp_number_unique_per_program",
                violation_error_code="dvp_number_taken",
                violation_error_message="Another incident of this program has this DVP number.",
            )
        ]

    def clean(self):
        errors = {}
        check_order(self, ("occurred_at", "notified_at"), errors)
        self.clean_location(errors)
        if errors:
            raise ValidationError(errors)


class SceneResponse(SyncedRecord):
    """Who from DVP went to an incident's scene, whom they reached, and the retaliation risk."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="scene_responses")
    shift = models.ForeignKey(
        "incidents.Shift", on_delete=models.PROTECT, null=True, blank=True, related_name="scene_responses"
    )
    responders = models.JSONField(
        default=list,
        blank=True,
        help_text="User ids of who went.",
        validators=[v.JSONShapeValidator(v.list_of({"type": "integer"}, 20, unique=True))],
    )
    arrived_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    people_reached = models.JSONField(
        default=dict,
        blank=True,
        validators=[v.JSONShapeValidator(v.counts_by_code(c.ReachedGroup.choices, 1000))],
        help_text="{family|friends|witnesses|community: count}.",
    )
    risk_level = models.CharField(max_length=10, choices=c.RiskLevel.choices, blank=True)
    risk_reasons = models.TextField(blank=True, max_length=4000)
    immediate_services = models.JSONField(
        default=list, blank=True, validators=[v.JSONShapeValidator(v.code_list(c.ImmediateService.choices))]
    )
    never_share_with_police = models.BooleanField(default=False)
    notes = models.TextField(blank=True, max_length=10000)

    class Meta:
        ordering = ["-server_received_at", "id"]

    def clean(self):
        errors = {}
        check_order(self, ("arrived_at", "departed_at"), errors)
        if self.incident_id and self.incident.team_id != self.team_id:
            errors["incident"] = [ValidationError("The incident belongs to another team.", code="wrong_team")]
        if self.shift_id and self.shift.team_id != self.team_id:
            errors["shift"] = [ValidationError("The shift belongs to another team.", code="wrong_team")]
        if self.risk_level in (c.RiskLevel.ELEVATED, c.RiskLevel.HIGH) and not self.risk_reasons:
            errors["risk_reasons"] = [ValidationError("Say why the risk is elevated or high.", code="reasons_required")]
        if errors:
            raise ValidationError(errors)


class FollowUpCase(SyncedRecord):
    """People at risk of retaliation, followed for weeks by an interrupter."""

    persons = models.JSONField(default=list, blank=True, validators=[v.JSONShapeValidator(PERSONS)])
    incidents = models.JSONField(
        default=list,
        blank=True,
        help_text="Ids of linked incidents.",
        validators=[
            v.JSONShapeValidator(
                v.list_of({"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F-]{36}$"}, 20, unique=True)
            )
        ],
    )
    assigned_to = models.ForeignKey(
        "responders.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=24, choices=c.CaseStatus.choices, default=c.CaseStatus.OPEN)
    opened_at = models.DateTimeField(null=True, blank=True)
    next_contact_due = models.DateField(null=True, blank=True)
    never_share_with_police = models.BooleanField(default=False)
    notes = models.TextField(blank=True, max_length=10000)

    class Meta:
        ordering = ["next_contact_due", "id"]
        indexes = [models.Index(fields=["team", "status", "next_contact_due"])]

    def clean(self):
        errors = {}
        check_person_names(self, errors)
        if errors:
            raise ValidationError(errors)


class ContactAttempt(SyncedRecord):
    """One attempt to reach a follow-up case's people: attempted vs made, in person or by phone."""

    case = models.ForeignKey(FollowUpCase, on_delete=models.PROTECT, related_name="contact_attempts")
    attempted_at = models.DateTimeField()
    made = models.BooleanField(default=False, help_text="Whether contact was actually made.")
    mode = models.CharField(max_length=12, choices=c.ContactMode.choices)
    outcome = models.CharField(max_length=20, choices=c.ContactOutcome.choices, blank=True)
    notes = models.TextField(blank=True, max_length=4000)

    class Meta:
        ordering = ["-attempted_at", "id"]

    def clean(self):
        errors = {}
        if self.case_id and self.case.team_id != self.team_id:
            errors["case"] = [ValidationError("The case belongs to another team.", code="wrong_team")]
        if self.made and self.outcome == c.ContactOutcome.NO_ANSWER:
            errors["outcome"] = [ValidationError("A contact that was made cannot be 'no answer'.", code="inconsistent")]
        if errors:
            raise ValidationError(errors)
