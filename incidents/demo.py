"""A realistic day of field records for the demo server, written through the same services as the API."""

import uuid
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from records.registry import get_spec
from records.writes import WriteContext, record_create


def _id(name):
    return uuid.uuid5(uuid.NAMESPACE_URL, f"demo-record/{name}")


def _at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute))).isoformat()


def _create(counts, type_name, key, actor, team, data):
    spec = get_spec(type_name)
    record_id = _id(key)
    if spec.model._base_manager.filter(pk=record_id).exists():
        return record_id
    record_create(
        spec=spec,
        ctx=WriteContext(actor=actor, app_version="demo", form_version="2026.11"),
        data=data,
        record_id=record_id,
        team_id=team.pk,
    )
    counts[type_name] = counts.get(type_name, 0) + 1
    return record_id


def load_demo_records(org):
    User = get_user_model()
    users = {
        u.username: u
        for u in User.objects.filter(username__startswith=("macro_")) | User.objects.filter(username__startswith="dvp_")
    }
    van1 = org.programs.get(code="MACRO").teams.get(code="van-1")
    zone = org.programs.get(code="DVP").teams.get(code="zone-east")
    crew, partner = users["macro_responder"], users["macro_partner"]
    today = timezone.localdate()
    counts = {}

    shift = _create(
        counts,
        "shift",
        "shift/van-1/today",
        crew,
        van1,
        {
            "call_sign": "MACRO 31",
            "crew": [crew.pk, partner.pk],
            "started_at": _at(today, 7),
            "status_timeline": [
                {"status": "available", "at": _at(today, 7, 5)},
                {"status": "en_route", "at": _at(today, 8, 2)},
                {"status": "on_scene", "at": _at(today, 8, 14)},
                {"status": "available", "at": _at(today, 8, 50)},
                {"status": "en_route", "at": _at(today, 11, 31)},
                {"status": "on_scene", "at": _at(today, 11, 40)},
                {"status": "transporting", "at": _at(today, 12, 5)},
                {"status": "available", "at": _at(today, 12, 40)},
            ],
            "calls_offered": [
                {
                    "cad_number": "P26-0441187",
                    "offered_at": _at(today, 8),
                    "call_type": "welfare check",
                    "decision": "accepted",
                },
                {
                    "cad_number": "P26-0441392",
                    "offered_at": _at(today, 11, 30),
                    "call_type": "mental health",
                    "decision": "accepted",
                },
                {
                    "cad_number": "P26-0441520",
                    "offered_at": _at(today, 13, 10),
                    "call_type": "disturbance",
                    "decision": "declined",
                    "decline_reason": "Weapon reported: not MACRO eligible",
                },
            ],
            "notes": "Heavy foot traffic near International Blvd.",
        },
    )
    engagements = [
        (
            "on-view-1",
            {
                "origin": "on_view",
                "on_scene_at": _at(today, 7, 40),
                "cleared_at": _at(today, 7, 55),
                "address": "International Blvd & 23rd Ave",
                "beat": "19X",
                "eligible": True,
                "needs": ["basic_needs", "housing"],
                "persons": [{"alias": "Blue jacket", "age_band": "45_54"}],
                "services": ["wellness_check", "resource_navigation"],
                "supplies": {"water": 2, "food": 1},
                "disposition": "resolved_on_scene",
            },
        ),
        (
            "dispatch-1",
            {
                "origin": "911_dispatch",
                "cad_number": "P26-0441187",
                "call_type": "welfare check",
                "priority": "3",
                "received_at": _at(today, 7, 58),
                "dispatched_at": _at(today, 8, 1),
                "en_route_at": _at(today, 8, 2),
                "on_scene_at": _at(today, 8, 14),
                "cleared_at": _at(today, 8, 50),
                "address": "Fruitvale BART",
                "beat": "21Y",
                "eligible": True,
                "needs": ["welfare_check", "medical"],
                "persons": [{"initials": "JR", "age_band": "65_plus"}],
                "services": ["assessment", "first_aid"],
                "supplies": {"water": 1},
                "disposition": "resolved_on_scene",
            },
        ),
        (
            "on-view-2",
            {
                "origin": "on_view",
                "on_scene_at": _at(today, 9, 20),
                "cleared_at": _at(today, 9, 45),
                "cross_street": "E 12th St & 29th Ave",
                "beat": "21X",
                "eligible": True,
                "needs": ["substance_use"],
                "persons": [{"alias": "Tall man", "age_band": "25_34"}],
                "services": ["resource_navigation"],
                "supplies": {"harm_reduction": 2, "naloxone": 1},
                "referrals": [{"to": "Roots Community Health Center", "kind": "warm_handoff"}],
                "disposition": "referred",
                "next_follow_up_due": (today + timedelta(days=3)).isoformat(),
            },
        ),
        (
            "referral-1",
            {
                "origin": "community_referral",
                "on_scene_at": _at(today, 10, 15),
                "cleared_at": _at(today, 10, 50),
                "address": "San Antonio Park",
                "beat": "20X",
                "eligible": True,
                "needs": ["housing", "mental_health"],
                "persons": [
                    {"alias": "Encampment A", "age_band": "35_44"},
                    {"alias": "Encampment B", "age_band": "unknown"},
                ],
                "services": ["crisis_counseling"],
                "supplies": {"hygiene_kit": 2, "water": 4},
                "referrals": [{"to": "Coordinated entry", "kind": "information_only"}],
                "disposition": "referred",
            },
        ),
        (
            "dispatch-2",
            {
                "origin": "911_dispatch",
                "cad_number": "P26-0441392",
                "call_type": "mental health",
                "priority": "2",
                "received_at": _at(today, 11, 25),
                "dispatched_at": _at(today, 11, 30),
                "en_route_at": _at(today, 11, 31),
                "on_scene_at": _at(today, 11, 40),
                "cleared_at": _at(today, 12, 40),
                "address": "Eastmont Town Center",
                "beat": "27Y",
                "eligible": True,
                "needs": ["mental_health"],
                "persons": [{"initials": "T", "age_band": "18_24"}],
                "services": ["de_escalation", "transport"],
                "disposition": "transported",
            },
        ),
        (
            "on-view-3",
            {
                "origin": "on_view",
                "on_scene_at": _at(today, 13, 30),
                "cleared_at": _at(today, 13, 40),
                "address": "Foothill Blvd & Seminary Ave",
                "beat": "26X",
                "eligible": True,
                "needs": ["basic_needs"],
                "supplies": {"water": 3, "food": 2},
                "disposition": "declined_services",
            },
        ),
        (
            "non-emergency-1",
            {
                "origin": "non_emergency_line",
                "call_type": "welfare check",
                "priority": "4",
                "received_at": _at(today, 14),
                "on_scene_at": _at(today, 14, 25),
                "cleared_at": _at(today, 14, 35),
                "address": "High St & MacArthur",
                "beat": "25X",
                "eligible": True,
                "needs": ["welfare_check"],
                "disposition": "unable_to_locate",
            },
        ),
        (
            "follow-up-1",
            {
                "origin": "follow_up",
                "on_scene_at": _at(today, 15, 10),
                "cleared_at": _at(today, 15, 30),
                "cross_street": "E 12th St & 29th Ave",
                "beat": "21X",
                "needs": ["substance_use"],
                "services": ["resource_navigation"],
                "disposition": "referred",
            },
        ),
    ]
    for key, data in engagements:
        _create(counts, "engagement", f"engagement/{key}", crew, van1, {**data, "shift": str(shift)})

    interrupter, coordinator = users["dvp_interrupter"], users["dvp_coordinator"]
    yesterday = today - timedelta(days=1)
    incident = _create(
        counts,
        "incident",
        "incident/31st-telegraph",
        coordinator,
        zone,
        {
            "dvp_number": "DVP-2026-0412",
            "police_case_number": "OPD-26-081144",
            "kind": "shooting",
            "occurred_at": _at(yesterday, 21, 40),
            "address": "31st St & Telegraph Ave",
            "beat": "10Y",
            "victims": [{"status": "killed", "age_band": "18_24"}, {"status": "injured", "age_band": "25_34"}],
            "notified_via": "police",
            "notified_at": _at(yesterday, 21, 58),
        },
    )
    _create(
        counts,
        "scene_response",
        "scene/31st-telegraph/1",
        interrupter,
        zone,
        {
            "incident": str(incident),
            "responders": [interrupter.pk, coordinator.pk],
            "arrived_at": _at(yesterday, 22, 25),
            "departed_at": _at(yesterday, 23, 50),
            "people_reached": {"family": 4, "friends": 6, "community": 10},
            "risk_level": "high",
            "risk_reasons": "Group affiliation; friends talking about payback.",
            "immediate_services": ["victim_services", "hospital_visit"],
            "never_share_with_police": True,
        },
    )
    _create(
        counts,
        "scene_response",
        "scene/31st-telegraph/2",
        interrupter,
        zone,
        {
            "incident": str(incident),
            "responders": [interrupter.pk],
            "arrived_at": _at(today, 10),
            "departed_at": _at(today, 11, 15),
            "people_reached": {"family": 2},
            "risk_level": "elevated",
            "risk_reasons": "Family fears retaliation at the vigil.",
            "immediate_services": ["funeral_support"],
        },
    )
    case_a = _create(
        counts,
        "follow_up_case",
        "case/31st-telegraph/a",
        coordinator,
        zone,
        {
            "persons": [{"alias": "Cousin", "age_band": "18_24"}],
            "incidents": [str(incident)],
            "assigned_to": interrupter.pk,
            "status": "in_mediation",
            "opened_at": _at(yesterday, 23),
            "next_contact_due": (today + timedelta(days=2)).isoformat(),
            "never_share_with_police": True,
        },
    )
    _create(
        counts,
        "follow_up_case",
        "case/31st-telegraph/b",
        coordinator,
        zone,
        {
            "persons": [{"alias": "Friend of victim", "age_band": "under_18"}],
            "incidents": [str(incident)],
            "assigned_to": interrupter.pk,
            "status": "open",
            "opened_at": _at(yesterday, 23, 10),
            "next_contact_due": yesterday.isoformat(),  # overdue: escalates to the coordinator
        },
    )
    for i, (hour, made, mode, outcome) in enumerate(
        [(9, False, "phone", "no_answer"), (16, True, "in_person", "mediation_held")]
    ):
        _create(
            counts,
            "contact_attempt",
            f"attempt/a/{i}",
            interrupter,
            zone,
            {"case": str(case_a), "attempted_at": _at(today, hour), "made": made, "mode": mode, "outcome": outcome},
        )
    return counts
