"""CAD reconciliation: import the city's dispatched calls, match them to engagements, list what does not match.

CSV columns (header row required; order free): cad_number, received_at (ISO 8601 with offset), and
optionally call_type, priority (1-4), beat, address, disposition. Every row is validated; if any row is
bad, nothing is imported and each bad row is reported by its line number.
"""

import csv
import io
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from backend.dates import try_parse_datetime
from backend.errors import DomainError
from incidents.choices import DISPATCHED_ORIGINS, Origin
from incidents.models import Engagement

from .models import CadCall
from .selectors import period_bounds

REQUIRED = ("cad_number", "received_at")
OPTIONAL = {"call_type": 60, "priority": 2, "beat": 10, "address": 200, "disposition": 60}
MAX_ROWS = 50_000
MATCH_WINDOW = timedelta(minutes=30)


def _row(line, raw):
    errors, values = [], {}
    cad = (raw.get("cad_number") or "").strip()
    if not cad or len(cad) > 40:
        errors.append("cad_number is required (at most 40 characters)")
    values["cad_number"] = cad
    received = try_parse_datetime(raw.get("received_at") or "")
    if received is None:
        errors.append("received_at must be an ISO 8601 date-time")
    elif timezone.is_naive(received):
        received = timezone.make_aware(received)
    values["received_at"] = received
    for name, limit in OPTIONAL.items():
        value = (raw.get(name) or "").strip()
        if len(value) > limit:
            errors.append(f"{name} is longer than {limit} characters")
        values[name] = value
    if values["priority"] and values["priority"] not in {"1", "2", "3", "4"}:
        errors.append("priority must be 1, 2, 3 or 4")
    return values, [{"line": line, "message": e} for e in errors]


def cad_import(*, program, actor, text, request=None):
    """Validate every row, then upsert all of them in one transaction (or none)."""
    if "\x00" in text:
        raise DomainError("invalid_csv", "The file contains NUL characters.")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise DomainError("invalid_csv", f"Missing columns: {', '.join(missing)}.", extra={"errors": []})
    rows, errors, seen = [], [], {}
    for line, raw in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise DomainError("too_many_rows", f"At most {MAX_ROWS} rows per import.")
        values, row_errors = _row(line, raw)
        if values["cad_number"] in seen:
            row_errors.append({"line": line, "message": f"cad_number repeats line {seen[values['cad_number']]}"})
        seen.setdefault(values["cad_number"], line)
        errors.extend(row_errors)
        rows.append(values)
    if errors:
        raise DomainError(
            "invalid_csv", f"{len(errors)} problem(s); nothing was imported.", extra={"errors": errors[:500]}
        )
    with transaction.atomic():
        existing = {
            c.cad_number: c
            for c in CadCall.objects.select_for_update().filter(
                program=program, cad_number__in=[r["cad_number"] for r in rows]
            )
        }
        new, updated = [], []
        for values in rows:
            call = existing.get(values["cad_number"])
            if call is None:
                new.append(CadCall(program=program, imported_by=actor, **values))
            else:
                for k, v in values.items():
                    setattr(call, k, v)
                call.imported_by, call.imported_at = actor, timezone.now()
                updated.append(call)
        CadCall.objects.bulk_create(new, batch_size=1000)
        CadCall.objects.bulk_update(updated, [*OPTIONAL, "received_at", "imported_by", "imported_at"], batch_size=1000)
        audit_record(
            action=AuditEvent.Action.CAD_IMPORT,
            actor=actor,
            program=program,
            object_type="cad_import",
            request=request,
            created=len(new),
            updated=len(updated),
        )
    return {"created": len(new), "updated": len(updated)}


def _matches_by_time_and_beat(engagement, call):
    """A dispatched engagement in the call's beat, received within MATCH_WINDOW of it."""
    e = engagement
    return bool(
        e["origin"] in DISPATCHED_ORIGINS
        and e["beat"]
        and e["beat"] == call.beat
        and abs((e["received_at"] or e["dispatched_at"] or e["server_received_at"]) - call.received_at) <= MATCH_WINDOW
    )


def reconcile(*, program, team_ids, start, end):
    """Match CAD calls to engagements: by CAD number, else by time (±30 min) and beat."""
    lo, hi = period_bounds(start, end)
    calls = list(
        CadCall.objects.filter(program=program, received_at__gte=lo, received_at__lt=hi).order_by("received_at", "pk")
    )
    engagements = list(
        Engagement.objects.filter(
            program=program,
            team_id__in=team_ids,
            deleted_at__isnull=True,
            server_received_at__gte=lo - MATCH_WINDOW,
            server_received_at__lt=hi + MATCH_WINDOW,
        ).values("pk", "cad_number", "origin", "beat", "received_at", "dispatched_at", "server_received_at")
    )
    by_cad = {e["cad_number"]: e for e in engagements if e["cad_number"]}
    used, matched_number, matched_time, unmatched_calls = set(), 0, 0, []
    for call in calls:
        hit = by_cad.get(call.cad_number)
        if hit:
            used.add(hit["pk"])
            matched_number += 1
            continue
        when = [e for e in engagements if e["pk"] not in used and _matches_by_time_and_beat(e, call)]
        if when:
            used.add(when[0]["pk"])
            matched_time += 1
        else:
            unmatched_calls.append(
                {
                    "cad_number": call.cad_number,
                    "received_at": call.received_at.isoformat(),
                    "call_type": call.call_type,
                    "beat": call.beat,
                }
            )
    known = set(CadCall.objects.filter(program=program).values_list("cad_number", flat=True))
    unexplained = [
        {"engagement": str(e["pk"]), "cad_number": e["cad_number"], "beat": e["beat"]}
        for e in engagements
        if e["origin"] == Origin.DISPATCH_911
        and e["pk"] not in used
        and e["cad_number"] not in known
        and lo <= e["server_received_at"] < hi
    ]
    return {
        "cad_calls": len(calls),
        "matched_by_cad_number": matched_number,
        "matched_by_time_and_beat": matched_time,
        "dispatched_calls_without_engagement": unmatched_calls[:1000],
        "engagements_no_cad_record_explains": unexplained[:1000],
    }
