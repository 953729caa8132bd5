"""The form descriptions (GET /api/v1/forms) say what the sync push accepts, no more and no less."""

import itertools
import uuid

import pytest

from tests.support import mutation, push

pytestmark = pytest.mark.django_db
TIME = "2026-11-24T10:00:00Z"
LATER = "2026-11-24T11:00:00Z"


@pytest.fixture
def forms(client):
    response = client.get("/api/v1/forms")
    assert response.status_code == 200
    return {t["type"]: t for t in response.json()["types"]}


class Writer:
    """One user on one device, numbering its mutations as an app does."""

    def __init__(self, field, user):
        self.api = field.api(user)
        self.seq = itertools.count(1)

    def send(self, type_, fields, op="create", record_id=None, base_version=None):
        body = push(
            self.api,
            mutation(next(self.seq), op, type_, record_id=record_id, fields=fields, base_version=base_version),
        )
        assert body.status_code == 200, body.content
        return body.json()["results"][0]


def sample(field_form, refs, rules=()):
    """A value the form allows for a field (a choice that sets off no cross-field rule)."""
    kind = field_form["kind"]
    if "choices" in field_form and kind == "choice":
        triggers = {v for r in rules for v in r.get("when", {}).get(field_form["name"], [])}
        return next(c["value"] for c in field_form["choices"] if c["value"] not in triggers)
    return {
        "text": f"X{uuid.uuid4().hex[:6]}",
        "long_text": "Notes.",
        "datetime": TIME,
        "date": "2026-11-30",
        "boolean": True,
        "decimal": "37.8",
        "reference": refs.get(field_form.get("references")),
        "codes": [field_form.get("choices", [{"value": None}])[0]["value"]],
        "counts": {field_form["choices"][0]["value"]: 1} if field_form.get("choices") else {},
    }.get(kind)


def minimal(form, refs):
    return {f["name"]: sample(f, refs, form["rules"]) for f in form["fields"] if f["required"]}


@pytest.fixture
def refs(field):
    """Records that other types point at, made by the people who may see them."""
    dvp = Writer(field, field.interrupter)
    incident, case = str(uuid.uuid4()), str(uuid.uuid4())
    assert dvp.send("incident", {"dvp_number": "R-1", "kind": "shooting", "occurred_at": TIME}, record_id=incident)[
        "status"
    ] == "applied"
    assert dvp.send("follow_up_case", {}, record_id=case)["status"] == "applied"
    return {"incident": incident, "follow_up_case": case}


def writer_for(field, form):
    return Writer(field, field.responder if "MACRO" in form["programs"] else field.interrupter)


TYPES = ["shift", "engagement", "incident", "scene_response", "follow_up_case", "contact_attempt"]


def test_every_record_type_is_described_with_human_labels(forms):
    assert sorted(forms) == sorted(TYPES)
    engagement = {f["name"]: f for f in forms["engagement"]["fields"]}
    assert {"value": "on_view", "label": "On-view (self-initiated)"} in engagement["origin"]["choices"]
    assert {"value": "35_44", "label": "35–44"} in engagement["persons"]["members"]["age_band"]["choices"]
    assert engagement["supplies"]["kind"] == "counts"
    police = next(f for f in forms["incident"]["fields"] if f["name"] == "police_case_number")
    assert police["restricted_to"] == ["coordinator"]


def test_json_code_labels_cover_exactly_the_codes_validation_accepts(forms):
    for form in forms.values():
        for f in form["fields"]:
            schema = f.get("schema") or {}
            codes = schema.get("items", {}).get("enum") or schema.get("propertyNames", {}).get("enum")
            if codes:
                assert [c["value"] for c in f["choices"]] == codes, (form["type"], f["name"])
            for member, member_form in f.get("members", {}).items():
                enum = schema["items"]["properties"][member].get("enum")
                if enum:
                    assert [c["value"] for c in member_form["choices"]] == enum, (form["type"], f["name"], member)


@pytest.mark.parametrize("type_", TYPES)
def test_what_the_form_requires_is_what_the_push_requires(field, forms, refs, type_):
    form = forms[type_]
    writer = writer_for(field, form)
    assert writer.send(type_, minimal(form, refs))["status"] == "applied"
    for f in form["fields"]:
        if f["required"]:
            fields = minimal(form, refs)
            del fields[f["name"]]
            result = writer.send(type_, fields)
            assert result["status"] == "rejected", (type_, f["name"])
            assert f["name"] in result["fields"], result


@pytest.mark.parametrize("type_", TYPES)
def test_every_choice_the_form_offers_is_accepted_and_nothing_else(field, forms, refs, type_):
    form = forms[type_]
    writer = writer_for(field, form)
    for f in form["fields"]:
        if not f.get("choices") or f.get("restricted_to") or f["kind"] not in ("choice", "codes", "counts"):
            continue
        for choice in f["choices"]:
            value = {"choice": choice["value"], "codes": [choice["value"]], "counts": {choice["value"]: 2}}[f["kind"]]
            fields = {**minimal(form, refs), f["name"]: value}
            if type_ == "engagement" and f["name"] == "origin":
                fields["cad_number"] = "C-1"
            if type_ == "scene_response" and f["name"] == "risk_level":
                fields["risk_reasons"] = "Threats online."
            if type_ == "follow_up_case" and f["name"] == "status":
                fields.pop("status", None)
                assert writer.send(type_, {**fields, "status": choice["value"]})["status"] == "applied"
                continue
            result = writer.send(type_, fields)
            assert result["status"] == "applied", (type_, f["name"], choice, result)
        bad = {"choice": "not-a-code", "codes": ["not-a-code"], "counts": {"not-a-code": 1}}[f["kind"]]
        result = writer.send(type_, {**minimal(form, refs), f["name"]: bad})
        assert result["status"] == "rejected", (type_, f["name"])
        assert result["fields"][f["name"]][0]["code"] == "invalid_choice", result


def breach(rule):
    """Field values that break a rule, and values that keep it."""
    kind = rule["kind"]
    if kind == "required_if":
        when = {k: v[0] for k, v in rule["when"].items()}
        return {**when, rule["field"]: ""}, {**when, rule["field"]: "Filled in"}
    if kind == "order":
        first, second = rule["fields"][0], rule["fields"][1]
        return {first: LATER, second: TIME}, {first: TIME, second: LATER}
    if kind == "together":
        return {rule["fields"][0]: "37.8"}, {rule["fields"][0]: "37.8", rule["fields"][1]: "-122.2"}
    if kind == "forbidden_if":
        when = {k: v[0] for k, v in rule["when"].items()}
        return {**when, rule["field"]: rule["values"][0]}, {**when, rule["field"]: "reached"}
    if kind == "item_required_if":
        item = {"cad_number": "C-9", **{k: v[0] for k, v in rule["when"].items()}}
        return {rule["field"]: [item]}, {rule["field"]: [{**item, rule["member"]: "Out of area"}]}
    raise AssertionError(f"no test for rule kind {kind}")


@pytest.mark.parametrize("type_", TYPES)
def test_each_cross_field_rule_is_the_one_the_server_enforces(field, forms, refs, type_):
    form = forms[type_]
    writer = writer_for(field, form)
    for rule in form["rules"]:
        bad, good = breach(rule)
        result = writer.send(type_, {**minimal(form, refs), **bad})
        assert result["status"] == "rejected", (type_, rule)
        codes = {e["code"] for errors in result["fields"].values() for e in errors}
        assert rule["code"] in codes, (rule, result)
        assert writer.send(type_, {**minimal(form, refs), **good})["status"] == "applied", (type_, rule)


def test_restricted_fields_are_refused_to_other_roles_and_taken_from_the_listed_ones(field, forms):
    form = forms["incident"]
    fields = {"dvp_number": "R-7", "kind": "shooting", "occurred_at": TIME, "police_case_number": "OPD-1"}
    assert Writer(field, field.interrupter).send("incident", fields)["code"] == "field_restricted"
    assert Writer(field, field.coordinator).send("incident", fields)["status"] == "applied"
    assert next(f for f in form["fields"] if f["name"] == "police_case_number")["restricted_to"] == ["coordinator"]


def test_spanish_labels_and_a_version_that_does_not_depend_on_the_language(client):
    en = client.get("/api/v1/forms").json()
    es = client.get("/api/v1/forms?lang=es").json()
    assert es["language"] == "es" and es["form_version"] == en["form_version"]
    engagement = {f["name"]: f for f in next(t for t in es["types"] if t["type"] == "engagement")["fields"]}
    assert {"value": "on_view", "label": "A la vista (por iniciativa propia)"} in engagement["origin"]["choices"]
    assert client.get("/api/v1/forms", HTTP_ACCEPT_LANGUAGE="es").json()["language"] == "es"
    assert client.get("/api/v1/forms?lang=xx").json()["language"] == "en"


def test_forms_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "get" in schema["paths"]["/api/v1/forms"]


def test_every_label_help_and_rule_message_has_a_spanish_translation(client):
    """A new field, choice or rule without Spanish fails here, not in front of a Spanish-speaking crew."""

    def strings(body):
        out = []
        for form in body["types"]:
            out.append(form["label"])
            for f in form["fields"]:
                out += [f["label"], f["help"]] + [c["label"] for c in f.get("choices", [])]
                for member in f.get("members", {}).values():
                    out += [member["label"]] + [c["label"] for c in member.get("choices", [])]
            out += [rule["message"] for rule in form["rules"]]
        return out

    same_in_both = {"18–24", "25–34", "35–44", "45–54", "55–64", "Alias", "Hospital", "No", ""}
    en = strings(client.get("/api/v1/forms?lang=en").json())
    es = strings(client.get("/api/v1/forms?lang=es").json())
    assert sorted({a for a, b in zip(en, es, strict=True) if a == b} - same_in_both) == []
