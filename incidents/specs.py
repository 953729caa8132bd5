"""The field record types and how each field merges (see docs/sync-protocol.md)."""

from records.registry import Policy, RecordSpec, register
from responders.selectors import POLICE_CASE_ROLES

from . import choices as c
from .models import ContactAttempt, Engagement, FollowUpCase, Incident, SceneResponse, Shift

S, SET, LIST, COUNTS, TEXT, STATUS = Policy.SCALAR, Policy.SET, Policy.LIST, Policy.COUNTS, Policy.TEXT, Policy.STATUS
LOCATION = {"latitude": S, "longitude": S, "address": S, "cross_street": S, "beat": S}

# The shift log first: the order record types are registered in is the order pull and the data dictionary use.
SHIFT = register(
    RecordSpec(
        name="shift",
        model=Shift,
        programs=frozenset({"MACRO", "DVP"}),
        policies={
            "call_sign": Policy.SCALAR,
            "crew": Policy.SET,
            "started_at": Policy.SCALAR,
            "ended_at": Policy.SCALAR,
            "status_timeline": Policy.LIST,
            "calls_offered": Policy.LIST,
            "notes": Policy.TEXT,
        },
        people=("crew",),
        lock="self",
        read_only=("review_status", "submitted_at", "reviewed_at", "reviewed_by_id", "review_comment"),
    )
)

ENGAGEMENT = register(
    RecordSpec(
        name="engagement",
        model=Engagement,
        programs=frozenset({"MACRO"}),
        policies={
            "shift": S,
            "origin": S,
            "cad_number": S,
            "call_type": S,
            "priority": S,
            "received_at": S,
            "dispatched_at": S,
            "en_route_at": S,
            "on_scene_at": S,
            "cleared_at": S,
            "eligible": S,
            **LOCATION,
            "needs": SET,
            "persons": LIST,
            "services": SET,
            "supplies": COUNTS,
            "referrals": LIST,
            "disposition": S,
            "next_follow_up_due": S,
            "notes": TEXT,
        },
        references={"shift": "shift"},
    )
)

INCIDENT = register(
    RecordSpec(
        name="incident",
        model=Incident,
        programs=frozenset({"DVP"}),
        policies={
            "dvp_number": S,
            "police_case_number": S,
            "kind": S,
            "occurred_at": S,
            **LOCATION,
            "victims": LIST,
            "notified_via": S,
            "notified_at": S,
            "notes": TEXT,
        },
        restricted={"police_case_number": POLICE_CASE_ROLES},
        lock=None,
    )
)

SCENE_RESPONSE = register(
    RecordSpec(
        name="scene_response",
        model=SceneResponse,
        programs=frozenset({"DVP"}),
        policies={
            "incident": S,
            "shift": S,
            "responders": SET,
            "arrived_at": S,
            "departed_at": S,
            "people_reached": COUNTS,
            "risk_level": S,
            "risk_reasons": TEXT,
            "immediate_services": SET,
            "never_share_with_police": S,
            "notes": TEXT,
        },
        references={"incident": "incident", "shift": "shift"},
        people=("responders",),
    )
)

FOLLOW_UP_CASE = register(
    RecordSpec(
        name="follow_up_case",
        model=FollowUpCase,
        programs=frozenset({"DVP"}),
        policies={
            "persons": LIST,
            "incidents": SET,
            "assigned_to": S,
            "status": STATUS,
            "opened_at": S,
            "next_contact_due": S,
            "never_share_with_police": S,
            "notes": TEXT,
        },
        transitions={"status": {k.value: {t.value for t in v} for k, v in c.CASE_STATUS_TRANSITIONS.items()}},
        id_lists={"incidents": "incident"},
        people=("assigned_to",),
        lock=None,
    )
)

CONTACT_ATTEMPT = register(
    RecordSpec(
        name="contact_attempt",
        model=ContactAttempt,
        programs=frozenset({"DVP"}),
        policies={
            "case": S,
            "attempted_at": S,
            "made": S,
            "mode": S,
            "outcome": S,
            "notes": TEXT,
        },
        references={"case": "follow_up_case"},
        lock=None,
    )
)
