"""Coded lists. Records store the code; labels are for people and may change.

Codes follow domain.md and the "Measuring What Matters" data dictionary for
alternative response where domain.md is silent.
"""

from django.db import models


class Origin(models.TextChoices):
    DISPATCH_911 = "911_dispatch", "911 dispatch"
    NON_EMERGENCY_LINE = "non_emergency_line", "Non-emergency line"
    POLICE_TRANSFER = "police_transfer", "Police transfer"
    ON_VIEW = "on_view", "On-view (self-initiated)"
    COMMUNITY_REFERRAL = "community_referral", "Community referral"
    FOLLOW_UP = "follow_up", "Follow-up"


DISPATCHED_ORIGINS = {Origin.DISPATCH_911, Origin.NON_EMERGENCY_LINE, Origin.POLICE_TRANSFER}


class Priority(models.TextChoices):
    P1 = "1", "Priority 1"
    P2 = "2", "Priority 2"
    P3 = "3", "Priority 3"
    P4 = "4", "Priority 4"


class Need(models.TextChoices):
    MENTAL_HEALTH = "mental_health", "Mental health"
    SUBSTANCE_USE = "substance_use", "Substance use"
    HOUSING = "housing", "Housing / unsheltered"
    MEDICAL = "medical", "Medical"
    WELFARE_CHECK = "welfare_check", "Welfare check"
    CONFLICT = "conflict", "Conflict / dispute"
    BASIC_NEEDS = "basic_needs", "Basic needs (food, water, clothing)"
    TRANSPORTATION = "transportation", "Transportation"
    DOMESTIC_VIOLENCE = "domestic_violence", "Domestic violence"
    YOUTH = "youth", "Youth"
    OTHER = "other", "Other"


class Service(models.TextChoices):
    ASSESSMENT = "assessment", "Physical / behavioural assessment"
    FIRST_AID = "first_aid", "First aid"
    DE_ESCALATION = "de_escalation", "De-escalation"
    CRISIS_COUNSELING = "crisis_counseling", "Crisis counselling"
    TRANSPORT = "transport", "Transport"
    RESOURCE_NAVIGATION = "resource_navigation", "Resource navigation"
    SHELTER_PLACEMENT = "shelter_placement", "Shelter placement"
    WELLNESS_CHECK = "wellness_check", "Wellness check"
    OTHER = "other", "Other"


class Supply(models.TextChoices):
    WATER = "water", "Water"
    FOOD = "food", "Food / snacks"
    HYGIENE_KIT = "hygiene_kit", "Hygiene kit"
    HARM_REDUCTION = "harm_reduction", "Harm-reduction supplies"
    NALOXONE = "naloxone", "Naloxone"
    CLOTHING = "clothing", "Clothing / blanket"
    OTHER = "other", "Other"


class ReferralKind(models.TextChoices):
    WARM_HANDOFF = "warm_handoff", "Warm hand-off"
    INFORMATION_ONLY = "information_only", "Information only"


class Disposition(models.TextChoices):
    RESOLVED_ON_SCENE = "resolved_on_scene", "Resolved on scene"
    TRANSPORTED = "transported", "Transported"
    REFERRED = "referred", "Referred"
    DECLINED_SERVICES = "declined_services", "Declined services"
    POLICE_BACKUP = "police_backup", "Police backup requested"
    FIRE_BACKUP = "fire_backup", "Fire / EMS backup requested"
    UNABLE_TO_LOCATE = "unable_to_locate", "Unable to locate"


class AgeBand(models.TextChoices):
    UNDER_18 = "under_18", "Under 18"
    A18_24 = "18_24", "18–24"
    A25_34 = "25_34", "25–34"
    A35_44 = "35_44", "35–44"
    A45_54 = "45_54", "45–54"
    A55_64 = "55_64", "55–64"
    A65_PLUS = "65_plus", "65 and over"
    UNKNOWN = "unknown", "Unknown"


class UnitStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    EN_ROUTE = "en_route", "En route"
    ON_SCENE = "on_scene", "On scene"
    TRANSPORTING = "transporting", "Transporting"
    OUT_OF_SERVICE = "out_of_service", "Out of service"


class CallDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    PENDING = "pending", "Pending"


class IncidentKind(models.TextChoices):
    SHOOTING = "shooting", "Shooting"
    HOMICIDE = "homicide", "Homicide"
    STABBING = "stabbing", "Stabbing"
    ASSAULT = "assault", "Other violent assault"
    OTHER = "other", "Other violent event"


class VictimStatus(models.TextChoices):
    KILLED = "killed", "Killed"
    INJURED = "injured", "Injured"


class NotificationSource(models.TextChoices):
    POLICE = "police", "Police notification"
    HOSPITAL = "hospital", "Hospital"
    COMMUNITY = "community", "Community member"
    SOCIAL_MEDIA = "social_media", "Social media"
    STAFF = "staff", "DVP staff on scene"
    OTHER = "other", "Other"


class ReachedGroup(models.TextChoices):
    FAMILY = "family", "Family"
    FRIENDS = "friends", "Friends"
    WITNESSES = "witnesses", "Witnesses"
    COMMUNITY = "community", "Community members"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    ELEVATED = "elevated", "Elevated"
    HIGH = "high", "High"


class ImmediateService(models.TextChoices):
    RELOCATION = "relocation", "Relocation"
    FUNERAL_SUPPORT = "funeral_support", "Funeral support"
    VICTIM_SERVICES = "victim_services", "Victim services"
    HOSPITAL_VISIT = "hospital_visit", "Hospital visit"
    MEDIATION = "mediation", "Mediation"
    OTHER = "other", "Other"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_MEDIATION = "in_mediation", "In mediation"
    TEMPORARILY_RESOLVED = "temporarily_resolved", "Temporarily resolved"
    RESOLVED = "resolved", "Resolved"
    VIOLENCE_OCCURRED = "violence_occurred", "Violence occurred"
    CLOSED = "closed", "Closed"


# Allowed follow-up case status moves (the sync merge follows this machine too).
CASE_STATUS_TRANSITIONS = {
    CaseStatus.OPEN: {
        CaseStatus.IN_MEDIATION,
        CaseStatus.TEMPORARILY_RESOLVED,
        CaseStatus.RESOLVED,
        CaseStatus.VIOLENCE_OCCURRED,
        CaseStatus.CLOSED,
    },
    CaseStatus.IN_MEDIATION: {
        CaseStatus.OPEN,
        CaseStatus.TEMPORARILY_RESOLVED,
        CaseStatus.RESOLVED,
        CaseStatus.VIOLENCE_OCCURRED,
        CaseStatus.CLOSED,
    },
    CaseStatus.TEMPORARILY_RESOLVED: {
        CaseStatus.OPEN,
        CaseStatus.IN_MEDIATION,
        CaseStatus.RESOLVED,
        CaseStatus.VIOLENCE_OCCURRED,
        CaseStatus.CLOSED,
    },
    CaseStatus.RESOLVED: {CaseStatus.OPEN, CaseStatus.CLOSED},
    CaseStatus.VIOLENCE_OCCURRED: {CaseStatus.OPEN, CaseStatus.IN_MEDIATION, CaseStatus.CLOSED},
    CaseStatus.CLOSED: {CaseStatus.OPEN},
}


class ContactMode(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "Phone"
    TEXT = "text", "Text message"


class ContactOutcome(models.TextChoices):
    REACHED = "reached", "Reached, talked"
    NO_ANSWER = "no_answer", "No answer / not found"
    REFUSED = "refused", "Refused contact"
    MEDIATION_HELD = "mediation_held", "Mediation held"
    SERVICES_LINKED = "services_linked", "Linked to services"
    OTHER = "other", "Other"
