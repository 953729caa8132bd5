"""Field walls on every copy of a value (records/redaction.py).

Generated from the registry: for every restricted field of every record type, a value is written by someone
allowed to (a DVP coordinator for a police case number) and copied everywhere a value can be copied: the
record, a conflict (base, server and incoming values), a rejected push kept in quarantine, an amendment. Then
every representation the server has is fetched by every role that may not see the field, and the value must
appear in none of them, in any form.
"""

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import Shift
from records.models import Amendment, Conflict
from records.registry import ordered_specs
from responders.models import Membership, Role
from sync.models import Mutation
from tests.support import mutation, push

NOW = timezone.now().replace(microsecond=0).isoformat()

RESTRICTED = [(spec.name, name, roles) for spec in ordered_specs() for name, roles in sorted(spec.restricted.items())]

# Valid fields to create a record of a type with restricted fields (extend when a new type gets one).
BASE_FIELDS = {
    "incident": lambda: {"dvp_number": f"DVP-{uuid.uuid4().hex[:8]}", "kind": "shooting", "occurred_at": NOW},
}
# A value that makes a create of the type fail validation (to put it in quarantine).
INVALID = {"incident": {"kind": "not-a-kind"}}


def test_the_registry_has_restricted_fields_and_the_test_knows_them():
    assert RESTRICTED, "no restricted field: the wall test would check nothing"
    assert {t for t, _, _ in RESTRICTED} <= set(BASE_FIELDS)


def _mark():
    return f"SECRET{uuid.uuid4().hex[:10]}"


@pytest.fixture
def world(field):
    dvp_admin = field.user("dvp_admin", field.dvp, None, Role.PROGRAM_ADMIN)
    coordinator_2 = field.user("coordinator_2", field.dvp, field.team_d, Role.COORDINATOR)
    field.dvp_admin, field.coordinator_2 = dvp_admin, coordinator_2
    return field


def _readers(field, allowed_roles):
    """Every DVP person of the record's team or program whose role may not see the field."""
    people = [field.interrupter, field.dvp_supervisor, field.dvp_admin, field.dvp_analyst, field.interrupter_b]
    roles = dict(Membership.objects.filter(user__in=people).values_list("user_id", "role"))
    return [p for p in people if roles[p.pk] not in allowed_roles]


def _copies(field, type_name, name):
    """Write the value everywhere it can be copied; returns the marks written and the objects made."""
    marks = [_mark() for _ in range(5)]
    a, b = field.api(field.coordinator), field.api(field.coordinator_2)
    record_id = str(uuid.uuid4())
    created = push(
        a, mutation(1, type_=type_name, record_id=record_id, fields={**BASE_FIELDS[type_name](), name: marks[0]})
    )
    assert created.json()["results"][0]["status"] == "applied", created.json()
    # Two coordinators change the field from the same base: the second becomes a conflict (base, server, incoming).
    first = push(a, mutation(2, "update", type_name, record_id, {name: marks[1]}, base_version=1)).json()
    assert first["results"][0]["status"] == "applied", first
    second = push(b, mutation(1, "update", type_name, record_id, {name: marks[2]}, base_version=1)).json()
    assert second["results"][0]["status"] == "conflict", second
    # A coordinator's create that fails validation is kept in quarantine with its fields.
    bad = {**BASE_FIELDS[type_name](), **INVALID[type_name], name: marks[3]}
    rejected = push(a, mutation(3, type_=type_name, fields=bad)).json()["results"][0]
    assert rejected["status"] == "rejected", rejected
    quarantined = Mutation.objects.get(pk=rejected["mutation_id"])
    assert quarantined.team_id == field.team_d.pk  # so the team's supervisor sees it in the queue
    # An amendment carrying the field (the API makes them for records on approved shift logs).
    shift = Shift.objects.create(
        program=field.dvp, team=field.team_d, created_by=field.coordinator, call_sign="DVP 1", started_at=NOW
    )
    Amendment.objects.create(
        shift=shift,
        record_type=type_name,
        record_id=record_id,
        op="update",
        program=field.dvp,
        team=field.team_d,
        requested_by=field.coordinator,
        changes={name: marks[4]},
    )
    return marks, record_id, quarantined


def _api_representations(api, type_name, record_id):
    from incidents.views import URL_NAMES

    base = f"/api/v1/{URL_NAMES[type_name]}"
    return {
        "list": api.get(base),
        "detail": api.get(f"{base}/{record_id}"),
        "pull": api.get("/api/v1/sync/pull", {"protocol": 1}),
        "watermelon pull": api.get("/api/v1/sync/watermelon/pull"),
        "conflicts": api.get("/api/v1/sync/conflicts"),
        "quarantine": api.get("/api/v1/sync/quarantine"),
        "amendments": api.get("/api/v1/sync/amendments"),
    }


def _page_representations(user):
    from review.page_urls import urlpatterns

    client = Client()
    client.force_login(user)
    pages = {}
    for pattern in urlpatterns:
        if pattern.pattern.converters or pattern.name in ("supervisor-logout", "supervisor-login"):
            continue
        path = reverse(pattern.name)
        pages[path] = client.get(path, {"program": "DVP"})
    return pages


def _leaks(responses, marks, who):
    """Where any of the marks shows, as "who: what (status)" lines."""
    out = []
    for what, response in responses.items():
        body = response.content.decode()
        leaked = [m for m in marks if m in body]
        if leaked:
            out.append(f"{who}: {what} ({response.status_code}) shows {len(leaked)} value(s)")
    return out


@pytest.mark.parametrize(("type_name", "name", "allowed"), RESTRICTED, ids=[f"{t}.{n}" for t, n, _ in RESTRICTED])
def test_restricted_values_reach_no_one_else_in_any_representation(world, type_name, name, allowed):
    field = world
    marks, record_id, quarantined = _copies(field, type_name, name)
    conflict = Conflict.objects.get(record_id=record_id, field=name)
    assert (conflict.base_value, conflict.server_value, conflict.incoming_value) == (marks[0], marks[1], marks[2])

    # Positive control: the coordinator sees the value in the record and in the conflict.
    coordinator = field.api(field.coordinator)
    seen = _api_representations(coordinator, type_name, record_id)
    assert marks[1] in seen["detail"].content.decode()
    assert (
        marks[2] in seen["conflicts"].content.decode()
        or marks[2] in field.api(field.coordinator_2).get("/api/v1/sync/conflicts").content.decode()
    )

    readers = _readers(field, allowed)
    assert readers, "nobody to check"
    checked, leaks = 0, []
    for reader in readers:
        responses = _api_representations(field.api(reader), type_name, record_id)
        responses.update(_page_representations(reader))
        leaks += _leaks(responses, marks, reader.username)
        checked += len(responses)
    assert checked >= len(readers) * 8

    # Answers to the supervisor's own actions on these copies are walled too.
    supervisor = field.api(field.dvp_supervisor)
    kept = supervisor.post(
        f"/api/v1/sync/conflicts/{conflict.pk}/resolve", {"resolution": "keep_server"}, format="json"
    )
    assert kept.status_code == 200
    dismissed = supervisor.post(f"/api/v1/sync/quarantine/{quarantined.pk}/dismiss")
    assert dismissed.status_code == 200
    resolved = supervisor.get("/api/v1/sync/conflicts", {"status": "resolved"})
    leaks += _leaks({"resolve": kept, "dismiss": dismissed, "resolved conflicts": resolved}, marks, "supervisor")
    assert not leaks, "\n".join(leaks)
    assert kept.json()["redacted"] is True and kept.json()["server_value"] is None

    # The audit trail keeps who did what, never the values.
    details = json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert not [m for m in marks if m in details]
