"""CAD import (all rows or none, errors by line) and reconciliation against engagements."""

from datetime import timedelta

from django.utils import timezone

from records.registry import get_spec
from records.writes import WriteContext, record_create
from reports.models import CadCall

TODAY = timezone.localdate()
NOW = timezone.now().replace(microsecond=0)


def csv_text(*rows):
    return "cad_number,received_at,call_type,priority,beat\n" + "\n".join(",".join(r) for r in rows) + "\n"


def importer(field):
    return field.api(field.supervisor)


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(field):
    text = csv_text(
        ("P1", NOW.isoformat(), "welfare", "3", "04X"),
        ("", NOW.isoformat(), "welfare", "3", "04X"),
        ("P3", "yesterday", "welfare", "9", "04X"),
        ("P1", NOW.isoformat(), "welfare", "3", "04X"),
    )
    response = importer(field).post("/api/v1/reports/cad-calls", {"program": "MACRO", "csv": text}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_csv"
    lines = sorted({e["line"] for e in response.json()["errors"]})
    assert lines == [3, 4, 5]
    assert CadCall.objects.count() == 0


def test_import_then_reconcile(field):
    spec = get_spec("engagement")
    ctx = WriteContext(actor=field.responder, audit=False)
    by_number = record_create(spec=spec, ctx=ctx, data={"origin": "911_dispatch", "cad_number": "P1"}).instance
    by_time = record_create(
        spec=spec,
        ctx=ctx,
        data={
            "origin": "911_dispatch",
            "cad_number": "TYPO-2",
            "beat": "06X",
            "received_at": (NOW + timedelta(minutes=4)).isoformat(),
        },
    ).instance
    record_create(spec=spec, ctx=ctx, data={"origin": "911_dispatch", "cad_number": "P-UNKNOWN", "beat": "19X"})
    record_create(spec=spec, ctx=ctx, data={"origin": "on_view", "beat": "06X"})
    text = csv_text(
        ("P1", NOW.isoformat(), "welfare", "3", "04X"),
        ("P2", NOW.isoformat(), "mental health", "2", "06X"),
        ("P9", NOW.isoformat(), "disturbance", "3", "31Y"),
    )
    api = importer(field)
    imported = api.post("/api/v1/reports/cad-calls", {"program": "MACRO", "csv": text}, format="json")
    assert imported.json() == {"created": 3, "updated": 0}
    again = api.post("/api/v1/reports/cad-calls", {"program": "MACRO", "csv": text}, format="json")
    assert again.json() == {"created": 0, "updated": 3}
    body = api.get(
        "/api/v1/reports/cad-reconciliation",
        {"program": "MACRO", "start": TODAY.isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()},
    ).json()
    assert (body["cad_calls"], body["matched_by_cad_number"], body["matched_by_time_and_beat"]) == (3, 1, 1)
    assert [c["cad_number"] for c in body["dispatched_calls_without_engagement"]] == ["P9"]
    assert [e["cad_number"] for e in body["engagements_no_cad_record_explains"]] == ["P-UNKNOWN"]
    assert by_number.pk and by_time.pk


def test_only_supervisors_import(field):
    response = field.api(field.responder).post(
        "/api/v1/reports/cad-calls", {"program": "MACRO", "csv": csv_text()}, format="json"
    )
    assert response.status_code == 403
