"""References checked for scope on every record type, generated from the registry.

A reference names another record (a shift, an incident, a case) or a person (a crew member, an assignee).
For every reference field of every type, a writer bound to one team sends an id that does not exist, an id
of a record or person of another team or program, and one of their own. The first ones must be refused
alike (the answer must not tell a foreign record from a missing one); their own must work.
"""

import re
import uuid

import pytest
from django.db import models

from records.registry import get_spec, ordered_specs
from responders.models import Role
from tests.incidents.test_records_api import make, url, valid_data
from tests.support import mutation, push


def reference_fields():
    """(type, field, target) for every field naming a record or a person: foreign keys, and JSON lists of ids."""
    out = []
    for spec in ordered_specs():
        for name in spec.policies:
            f = spec.model._meta.get_field(name)
            if f.is_relation:
                target = spec.references.get(name) or ("person" if name in spec.people else None)
                assert target, f"{spec.name}.{name} is a reference the registry does not declare"
                out.append((spec.name, name, target))
            elif isinstance(f, models.JSONField) and re.search(r"\bids?\b", f.help_text, re.I):
                target = spec.id_lists.get(name) or ("person" if name in spec.people else None)
                assert target, f"{spec.name}.{name} holds ids the registry does not declare"
                out.append((spec.name, name, target))
    return out


REFERENCES = reference_fields()


def test_every_reference_is_declared_and_the_list_is_not_empty():
    names = {(t, n) for t, n, _ in REFERENCES}
    assert {("engagement", "shift"), ("scene_response", "incident"), ("follow_up_case", "incidents")} <= names
    assert {("follow_up_case", "assigned_to"), ("scene_response", "responders"), ("shift", "crew")} <= names


def _writer(field, type_name):
    return field.responder if type_name in ("engagement", "shift") else field.interrupter


def _teams(field, type_name):
    """(own team, another team of the program, a team of the other program)."""
    if type_name in ("engagement", "shift"):
        return field.team_a, field.team_b, field.team_d
    return field.team_d, field.team_d2, field.team_a


def _ids(field, type_name, target):
    """{case: value} for the reference: its own, a missing one, another team's, another program's."""
    own, other_team, other_program = _teams(field, type_name)
    if target == "person":
        members = {
            field.team_a: field.partner,
            field.team_b: field.other_team,
            field.team_d: field.coordinator,
            field.team_d2: field.interrupter_b,
        }
        return {
            "own": members[own].pk,
            "missing": 987654321,
            "other_program": members[other_program].pk,
        }
    writer = _writer(field, type_name)
    foreign_writer = field.other_team if own == field.team_a else field.interrupter_b
    other_program_writer = field.interrupter if own == field.team_a else field.responder
    cases = {
        "own": str(make(field, target, own, writer).pk),
        "missing": str(uuid.uuid4()),
        "other_team": str(make(field, target, other_team, foreign_writer).pk),
    }
    if other_program.program.code in get_spec(target).programs:
        cases["other_program"] = str(make(field, target, other_program, other_program_writer).pk)
    return cases


def _value(field_name, value, target, type_name):
    spec = get_spec(type_name)
    is_list = field_name in spec.id_lists or (
        target == "person"
        and field_name not in spec.references
        and not (spec.model._meta.get_field(field_name).is_relation)
    )
    return [value] if is_list else value


def _normalise(body, value):
    return re.sub(re.escape(str(value)), "ID", str(body))


@pytest.mark.parametrize(("type_name", "name", "target"), REFERENCES, ids=[f"{t}.{n}" for t, n, _ in REFERENCES])
def test_references_outside_the_writers_scope_are_refused_like_missing_ones(field, type_name, name, target):
    writer = _writer(field, type_name)
    own_team = _teams(field, type_name)[0]
    api = field.api(writer)
    cases = _ids(field, type_name, target)
    answers = {}
    for case, value in cases.items():
        data = {**valid_data(field, type_name, own_team, writer), name: _value(name, value, target, type_name)}
        rest = api.post(url(type_name), data, format="json")
        answers[case] = (rest.status_code, _normalise(rest.json().get("fields", {}).get(name), value))
        if case != "own":
            assert rest.status_code == 400, (case, rest.json())
            codes = [e["code"] for e in rest.json()["fields"][name]] if name in rest.json()["fields"] else []
            assert codes and codes[0] == "does_not_exist", (case, rest.json())
        else:
            assert rest.status_code == 201, (case, rest.json())
    refused = {case: a for case, a in answers.items() if case != "own"}
    assert len(set(refused.values())) == 1, refused  # a foreign record answers exactly as a missing one

    # The same over sync: only that mutation is rejected, with the same field code.
    seq = 1
    for case, value in cases.items():
        if case == "own":
            continue
        data = {**valid_data(field, type_name, own_team, writer), name: _value(name, value, target, type_name)}
        result = push(api, mutation(seq, type_=type_name, fields=data)).json()["results"][0]
        seq += 1
        assert result["status"] == "rejected", (case, result)
        assert result["fields"][name][0]["code"] == "does_not_exist", (case, result)


def test_a_program_wide_coordinator_cannot_link_another_zones_incident_to_a_case(field):
    coordinator = field.user("program_coordinator", field.dvp, None, Role.COORDINATOR)
    west = make(field, "incident", field.team_d2, field.interrupter_b)
    response = field.api(coordinator).post(
        url("follow_up_case"), {"status": "open", "incidents": [str(west.pk)], "team": field.team_d.pk}, format="json"
    )
    assert response.status_code == 400 and response.json()["fields"]["incidents"][0]["code"] == "wrong_team"
