"""One description of every record type's form, built from the record specs, the models and the code lists.

The field app renders its forms from this (GET /api/v1/forms). Labels, choices, required fields, help text,
the JSON shapes and the restricted fields are read from the same models and registry that validate a push,
so the app, the API, the data dictionary and the validation cannot drift. The cross-field rules below are
the ones the models' clean() methods enforce; tests/fieldapp/test_forms.py pushes a breach of each rule and
checks the server answers with the rule's code, and pushes what the form allows and checks it is accepted.
"""

import hashlib
import json

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from backend.validators import JSONShapeValidator
from incidents import choices as c
from records.registry import ordered_specs
from responders.models import Program, Role

# The record type -> user-facing name. Model verbose names are developer names ("follow up case").
TYPE_LABELS = {
    "shift": "Shift log",
    "engagement": "Engagement",
    "incident": "Incident",
    "scene_response": "Scene response",
    "follow_up_case": "Follow-up case",
    "contact_attempt": "Contact attempt",
}

# Labels for fields whose model verbose name does not read well to a crew member.
FIELD_LABELS = {
    "call_sign": "Van / unit",
    "crew": "Crew",
    "started_at": "Shift started",
    "ended_at": "Shift ended",
    "status_timeline": "Status timeline",
    "calls_offered": "Calls offered by dispatch",
    "cad_number": "CAD number",
    "call_type": "Call type",
    "received_at": "Call received",
    "dispatched_at": "Dispatched",
    "en_route_at": "En route",
    "on_scene_at": "On scene",
    "cleared_at": "Cleared",
    "eligible": "Met MACRO criteria",
    "needs": "Needs",
    "persons": "People contacted",
    "services": "Services provided",
    "supplies": "Supplies handed out",
    "referrals": "Referrals",
    "next_follow_up_due": "Next follow-up due",
    "dvp_number": "DVP incident number",
    "police_case_number": "Police case number",
    "kind": "What happened",
    "occurred_at": "When it happened",
    "notified_via": "How DVP heard",
    "notified_at": "When DVP heard",
    "responders": "Who went",
    "arrived_at": "Arrived",
    "departed_at": "Left",
    "people_reached": "People reached",
    "risk_level": "Retaliation risk",
    "risk_reasons": "Why this risk level",
    "immediate_services": "Immediate services",
    "never_share_with_police": "Never share with police",
    "assigned_to": "Assigned to",
    "status": "Case status",
    "opened_at": "Opened",
    "next_contact_due": "Next contact due",
    "case": "Follow-up case",
    "attempted_at": "When",
    "made": "Contact made",
    "mode": "How",
    "outcome": "Outcome",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "address": "Address or landmark",
    "cross_street": "Cross street",
    "beat": "Police beat",
}

# Code lists inside JSON fields: the field (or item member) -> the choices whose codes its shape validator holds.
JSON_CHOICES = {
    ("engagement", "needs"): c.Need,
    ("engagement", "services"): c.Service,
    ("engagement", "supplies"): c.Supply,
    ("engagement", "persons.age_band"): c.AgeBand,
    ("engagement", "referrals.kind"): c.ReferralKind,
    ("follow_up_case", "persons.age_band"): c.AgeBand,
    ("incident", "victims.status"): c.VictimStatus,
    ("incident", "victims.age_band"): c.AgeBand,
    ("scene_response", "people_reached"): c.ReachedGroup,
    ("scene_response", "immediate_services"): c.ImmediateService,
    ("shift", "status_timeline.status"): c.UnitStatus,
    ("shift", "calls_offered.decision"): c.CallDecision,
}

# Rules across fields, as the models' clean() enforce them. Kinds:
#   required_if: `field` must be non-empty when `when` (field -> allowed values) matches.
#   order: each present time in `fields` is at or after the earlier present ones.
#   together: all of `fields` or none.
#   forbidden_if: `field` may not take `values` when `when` matches.
#   item_required_if: in list `field`, member `member` is required when the item's `when` matches.
RULES = {
    "shift": [
        {"kind": "order", "fields": ["started_at", "ended_at"], "code": "times_out_of_order",
         "message": "The shift ends before it starts."},
        {"kind": "item_required_if", "field": "calls_offered", "member": "decline_reason",
         "when": {"decision": ["declined"]}, "code": "decline_reason_required",
         "message": "A declined call needs a reason."},
    ],
    "engagement": [
        {"kind": "required_if", "field": "cad_number", "when": {"origin": ["911_dispatch"]},
         "code": "cad_number_required", "message": "A 911 dispatch needs its CAD number."},
        {"kind": "order", "fields": ["received_at", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at"],
         "code": "times_out_of_order", "message": "These times must be in order."},
        {"kind": "together", "fields": ["latitude", "longitude"], "code": "incomplete_location",
         "message": "Latitude and longitude go together."},
    ],
    "incident": [
        {"kind": "order", "fields": ["occurred_at", "notified_at"], "code": "times_out_of_order",
         "message": "DVP cannot hear of it before it happened."},
        {"kind": "together", "fields": ["latitude", "longitude"], "code": "incomplete_location",
         "message": "Latitude and longitude go together."},
    ],
    "scene_response": [
        {"kind": "order", "fields": ["arrived_at", "departed_at"], "code": "times_out_of_order",
         "message": "Left before arriving."},
        {"kind": "required_if", "field": "risk_reasons", "when": {"risk_level": ["elevated", "high"]},
         "code": "reasons_required", "message": "Say why the risk is elevated or high."},
    ],
    "follow_up_case": [],
    "contact_attempt": [
        {"kind": "forbidden_if", "field": "outcome", "values": ["no_answer"], "when": {"made": [True]},
         "code": "inconsistent", "message": "A contact that was made cannot be 'no answer'."},
    ],
}

# Help for a crew member, where the model's help text is written for developers (it wins over the model's).
HELP = {
    "persons": "Alias or initials only, never a name.",
    "supplies": "Tap + for each item handed out.",
    "people_reached": "How many people of each group you reached.",
    "victims": "Status and age band of each person hurt.",
    "status_timeline": "Each status change of the unit, with its time.",
    "calls_offered": "Calls dispatch offered the unit, and whether it took them.",
    "never_share_with_police": "Keep this record from any police request.",
}

# Labels of the members of JSON list items (persons, referrals, victims, timeline, calls).
MEMBER_LABELS = {
    "alias": "Alias",
    "initials": "Initials",
    "age_band": "Age band",
    "name": "Name",
    "to": "Referred to",
    "kind": "Kind",
    "status": "Status",
    "at": "At",
    "cad_number": "CAD number",
    "offered_at": "Offered at",
    "call_type": "Call type",
    "decision": "Decision",
    "decline_reason": "Decline reason",
}

PROGRAM_LABELS = dict(Program.Code.choices)
ROLE_LABELS = dict(Role.choices)


def _kind(f):
    if isinstance(f, models.ForeignKey):
        return "reference"
    if isinstance(f, models.JSONField):
        return "json"
    return {
        "CharField": "choice" if f.choices else "text",
        "TextField": "long_text",
        "DateTimeField": "datetime",
        "DateField": "date",
        "BooleanField": "boolean",
        "DecimalField": "decimal",
    }.get(type(f).__name__, "text")


def _shape(f):
    for validator in f.validators:
        if isinstance(validator, JSONShapeValidator):
            return validator.schema
    return None


def _json_kind(policy, shape):
    if shape is None:
        return "json"
    if shape.get("type") == "object" and "propertyNames" in shape:
        return "counts"
    if shape.get("type") == "array":
        items = shape.get("items", {})
        if items.get("type") == "object":
            return "items"
        if items.get("enum"):
            return "codes"
        return "ids"
    return "json"


def _choices(choice_class):
    return [{"value": value, "label": _(str(label))} for value, label in choice_class.choices]


def _label(name, f):
    return _(FIELD_LABELS.get(name) or str(f.verbose_name).capitalize())


def describe_field(spec, name, policy):
    f = spec.model._meta.get_field(name)
    kind = _kind(f)
    out = {
        "name": name,
        "label": _label(name, f),
        "kind": kind,
        "required": not (f.blank or f.null or f.has_default()),
        "policy": policy,
        "help": _(str(HELP.get(name) or f.help_text)) if (f.help_text or HELP.get(name)) else "",
    }
    if getattr(f, "max_length", None):
        out["max_length"] = f.max_length
    if f.choices:
        out["choices"] = [{"value": value, "label": _(str(label))} for value, label in f.choices]
    if kind == "decimal":
        out.update(max_digits=f.max_digits, decimal_places=f.decimal_places)
    if kind == "reference":
        out["references"] = spec.references.get(name) or f.related_model._meta.model_name
    if kind == "json":
        shape = _shape(f)
        out["kind"] = _json_kind(policy, shape)
        out["schema"] = shape
        if (spec.name, name) in JSON_CHOICES:
            out["choices"] = _choices(JSON_CHOICES[(spec.name, name)])
        if out["kind"] == "counts":
            out["max_count"] = shape["additionalProperties"]["maximum"]
        if out["kind"] == "items":
            item = shape["items"]
            out["item_required"] = list(item.get("required", []))
            out["members"] = {}
            for member, member_shape in item.get("properties", {}).items():
                m = {"label": _(MEMBER_LABELS.get(member) or member.replace("_", " ").capitalize())}
                if (spec.name, f"{name}.{member}") in JSON_CHOICES:
                    m["choices"] = _choices(JSON_CHOICES[(spec.name, f"{name}.{member}")])
                if "maxLength" in member_shape:
                    m["max_length"] = member_shape["maxLength"]
                out["members"][member] = m
        if out["kind"] == "codes" and shape["items"].get("enum") and "choices" not in out:
            out["choices"] = [{"value": v, "label": v} for v in shape["items"]["enum"]]
    if name in spec.restricted:
        out["restricted_to"] = sorted(str(r) for r in spec.restricted[name])
    if name in spec.transitions:
        out["transitions"] = {k: sorted(v) for k, v in spec.transitions[name].items()}
    return out


def describe():
    """Every record type's form. The same for everyone: per-role restrictions are stated, not applied."""
    types = []
    for spec in ordered_specs():
        types.append(
            {
                "type": spec.name,
                "label": _(TYPE_LABELS.get(spec.name, spec.name)),
                "description": _(" ".join((spec.model.__doc__ or "").split("\n\n")[0].split())),
                "programs": sorted(spec.programs),
                "rest_path": f"/api/v1/{spec.name.replace('_', '-')}s",
                "fields": [describe_field(spec, n, p) for n, p in spec.policies.items()],
                "read_only": list(spec.read_only),
                "rules": [{**rule, "message": _(rule["message"])} for rule in RULES.get(spec.name, [])],
            }
        )
    body = {
        "types": types,
        "programs": [{"value": k, "label": _(str(v))} for k, v in PROGRAM_LABELS.items()],
        "roles": [{"value": k, "label": _(str(v))} for k, v in ROLE_LABELS.items()],
    }
    return body


def form_version():
    """Changes whenever any form changes (labels included, in the default language)."""
    with translation.override("en"):
        text = json.dumps(describe(), sort_keys=True, default=str)
    return "1." + hashlib.sha256(text.encode()).hexdigest()[:12]
