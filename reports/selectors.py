"""The counts that answer "how much of the work did 911 counts miss".

Every figure excludes deleted records. Periods are [start, end) in local dates, by the time the server first
received the record (device clocks are never trusted for counting); DVP scene responses count in the period
of their incident.

Each report's figures are computed from rows (one dict per record), by the same code whether the rows are the
records as they are now or as they stood at a moment (rebuilt from each record's version history). That is
what keeps a closed period's figures put (docs/reports.md, "Closed periods"): they are computed as of the
period's close, and what arrived or changed later is listed as a dated adjustment beside them.
"""

import csv
import statistics
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone

from backend.dates import stored_moment
from incidents.choices import DISPATCHED_ORIGINS, ContactMode, Origin
from incidents.models import ContactAttempt, Engagement, FollowUpCase, SceneResponse, Shift
from records.models import RecordVersion

OPEN_CASE_STATUSES = ("open", "in_mediation", "temporarily_resolved")
# Minutes from DVP's notification to the first arrival at an incident: [low, high).
ARRIVAL_BANDS = [
    ("under_15", 0, 15),
    ("15_to_30", 15, 30),
    ("30_to_60", 30, 60),
    ("60_to_120", 60, 120),
    ("120_or_more", 120, float("inf")),
]
ENGAGEMENT_FIELDS = (
    "origin",
    "eligible",
    "disposition",
    "received_at",
    "dispatched_at",
    "on_scene_at",
    "needs",
    "services",
    "cad_number",
)
DATETIME_FIELDS = {"received_at", "dispatched_at", "on_scene_at", "arrived_at", "attempted_at"}


def period_bounds(start, end):
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end, time.min), tz),
    )


def closed_at(end):
    """The moment a period ending on `end` (exclusive) closes: its end plus REPORT_CLOSE_GRACE_DAYS."""
    return period_bounds(end, end)[1] + timedelta(days=settings.REPORT_CLOSE_GRACE_DAYS)


def is_closed(end, now=None):
    return (now or timezone.now()) >= closed_at(end)


def _month(moment):
    return timezone.localtime(moment).strftime("%Y-%m")


def _value(name, raw):
    if name in DATETIME_FIELDS and isinstance(raw, str):
        return stored_moment(raw)
    if name == "next_contact_due" and isinstance(raw, str):
        return stored_moment(raw).date()
    return raw


def _rows(record_type, qs, keys, fields, as_of=None):
    """One dict per record of `qs` (which must not filter on deletion): `keys` as they are now (period keys
    and relations, which a record's version history does not carry), `fields` as they are now (as_of None:
    deleted records left out) or as they stood at `as_of` (records not yet received, or deleted by then,
    left out)."""
    if as_of is None:
        return list(qs.filter(deleted_at__isnull=True).values("pk", *keys, *fields))
    keyed = {row["pk"]: row for row in qs.values("pk", *keys)}
    latest = {}
    versions = (
        RecordVersion.objects.filter(record_type=record_type, record_id__in=qs.values("pk"), at__lte=as_of)
        .order_by("record_id", "version")
        .values_list("record_id", "data", "changed_fields")
    )
    for record_id, data, changed in versions:
        latest[record_id] = (data, changed)
    rows = []
    for record_id, (data, changed) in latest.items():
        if "_deleted" in changed or record_id not in keyed:
            continue
        rows.append({**keyed[record_id], **{f: _value(f, data.get(f)) for f in fields}})
    return rows


def _changes_after(record_type, qs, moment):
    """What happened to the records of `qs` after `moment`: {"recorded": [dates], "changed": [...], "deleted": [...]}
    (each record once, under its first change after the moment; dates are local)."""
    before = set(
        RecordVersion.objects.filter(record_type=record_type, record_id__in=qs.values("pk"), at__lte=moment)
        .values_list("record_id", flat=True)
        .distinct()
    )
    seen, out = set(), {"recorded": [], "changed": [], "deleted": []}
    later = (
        RecordVersion.objects.filter(record_type=record_type, record_id__in=qs.values("pk"), at__gt=moment)
        .order_by("at", "version")
        .values_list("record_id", "at", "changed_fields")
    )
    for record_id, at, changed in later:
        if record_id in seen:
            continue
        seen.add(record_id)
        kind = "recorded" if record_id not in before else "deleted" if "_deleted" in changed else "changed"
        out[kind].append(timezone.localtime(at).date())
    return out


def adjustments_after(changes_by_type):
    """[{record_type, kind, count, first, last}] for every kind of change that happened, in a fixed order."""
    out = []
    for record_type, changes in changes_by_type.items():
        for kind in ("recorded", "changed", "deleted"):
            dates = sorted(changes[kind])
            if dates:
                out.append(
                    {
                        "record_type": record_type,
                        "kind": kind,
                        "count": len(dates),
                        "first": dates[0].isoformat(),
                        "last": dates[-1].isoformat(),
                    }
                )
    return out


def _engagement_qs(program, team_ids, start, end):
    lo, hi = period_bounds(start, end)
    return Engagement.objects.filter(
        program=program, team_id__in=team_ids, server_received_at__gte=lo, server_received_at__lt=hi
    )


def _minutes(a, b):
    return (b - a).total_seconds() / 60 if a and b and b >= a else None


def _median_p90(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return {"median": None, "p90": None, "n": 0}
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return {"median": round(statistics.median(values), 1), "p90": round(p90, 1), "n": len(values)}


def _share(part, whole):
    return round(part / whole, 3) if whole else None


def _engagement_figures(rows, start, end):
    by_origin = Counter(r["origin"] for r in rows)
    total = len(rows)
    team_month = Counter((r["team__code"], _month(r["server_received_at"]), r["origin"]) for r in rows)
    eligible = [r for r in rows if r["eligible"]]
    handled = sum(1 for r in eligible if r["disposition"] not in ("unable_to_locate", "", None))
    needs, services = Counter(), Counter()
    for r in rows:
        needs.update(r["needs"] or [])
        services.update(r["services"] or [])
    not_911 = total - by_origin.get(Origin.DISPATCH_911, 0)
    return {
        "total": total,
        "by_origin": {code: by_origin.get(code, 0) for code, _ in Origin.choices},
        "on_view": by_origin.get(Origin.ON_VIEW, 0),
        "not_911_dispatch": not_911,
        "share_not_911_dispatch": _share(not_911, total),
        "share_on_view": _share(by_origin.get(Origin.ON_VIEW, 0), total),
        "dispatched": sum(by_origin.get(o, 0) for o in DISPATCHED_ORIGINS),
        "linked_to_cad": sum(1 for r in rows if r["cad_number"]),
        "eligible": len(eligible),
        "eligible_handled": handled,
        "share_eligible_handled": _share(handled, len(eligible)),
        "minutes_received_to_on_scene": _median_p90(_minutes(r["received_at"], r["on_scene_at"]) for r in rows),
        "minutes_dispatched_to_on_scene": _median_p90(_minutes(r["dispatched_at"], r["on_scene_at"]) for r in rows),
        "needs": dict(sorted(needs.items())),
        "services": dict(sorted(services.items())),
        "late_records": sum(1 for r in rows if r["is_late"]),
        "by_team_month": [
            {"team": team, "month": month, "origin": origin, "count": n}
            for (team, month, origin), n in sorted(team_month.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2]))
        ],
        "series": _engagement_series(rows, start, end),
    }


def bucket_of(moment, by):
    local = timezone.localtime(moment).date()
    return local.isoformat()[:7] if by == "month" else local.isoformat()


def _buckets(start, end, by):
    """Every day (or month) of [start, end) up to today: a day with nothing is a zero, not a gap."""
    last = min(end, timezone.localdate() + timedelta(days=1))
    keys, day = [], start
    while day < last:
        key = day.isoformat()[:7] if by == "month" else day.isoformat()
        if not keys or keys[-1] != key:
            keys.append(key)
        day += timedelta(days=1)
    return keys


def _engagement_series(rows, start, end):
    """Per day (or month, for periods over 62 days): engagements by origin, on-view share, eligible share."""
    by = "month" if (end - start).days > 62 else "day"
    buckets = {key: [] for key in _buckets(start, end, by)}
    for r in rows:
        buckets.setdefault(bucket_of(r["server_received_at"], by), []).append(r)
    out = []
    for key in sorted(buckets):
        group = buckets[key]
        origins = Counter(r["origin"] for r in group)
        out.append(
            {
                "bucket": key,
                "total": len(group),
                "by_origin": {code: origins.get(code, 0) for code, _ in Origin.choices},
                "share_on_view": _share(origins.get(Origin.ON_VIEW, 0), len(group)),
                "share_eligible": _share(sum(1 for r in group if r["eligible"]), len(group)),
            }
        )
    return {"by": by, "points": out}


def engagement_report(*, program, team_ids, start, end, as_of=None):
    """The engagement figures now, or as they stood at `as_of`."""
    rows = _rows(
        "engagement",
        _engagement_qs(program, team_ids, start, end),
        ("team__code", "server_received_at", "is_late"),
        ENGAGEMENT_FIELDS,
        as_of=as_of,
    )
    return _engagement_figures(rows, start, end)


def engagement_report_as_of(*, program, team_ids, start, end, as_of):
    """The origin counts as they stood at `as_of`, and the labelled difference that arrived later."""
    then = engagement_report(program=program, team_ids=team_ids, start=start, end=end, as_of=as_of)["by_origin"]
    now = engagement_report(program=program, team_ids=team_ids, start=start, end=end)["by_origin"]
    return {
        "as_of": as_of.isoformat(),
        "by_origin": then,
        "total": sum(then.values()),
        "received_or_changed_later": {code: now[code] - then[code] for code, _ in Origin.choices},
    }


def _dvp_querysets(program, team_ids, start, end):
    lo, hi = period_bounds(start, end)
    responses = SceneResponse.objects.filter(
        program=program, team_id__in=team_ids, incident__occurred_at__gte=lo, incident__occurred_at__lt=hi
    )
    cases = FollowUpCase.objects.filter(
        program=program, team_id__in=team_ids, server_received_at__gte=lo, server_received_at__lt=hi
    )
    attempts = ContactAttempt.objects.filter(case__in=cases)
    return responses, cases, attempts


def dvp_report(*, program, team_ids, start, end, today=None, as_of=None):
    """DVP figures now, or as they stood at `as_of` (then "overdue" is judged on that day)."""
    responses_qs, cases_qs, attempts_qs = _dvp_querysets(program, team_ids, start, end)
    today = timezone.localtime(as_of).date() if as_of else today or timezone.localdate()
    responses = _rows(
        "scene_response",
        responses_qs,
        ("incident", "incident__notified_at"),
        ("arrived_at",),
        as_of=as_of,
    )
    cases = _rows("follow_up_case", cases_qs, ("server_received_at",), ("status", "next_contact_due"), as_of=as_of)
    attempts = _rows(
        "contact_attempt", attempts_qs, ("case", "case__server_received_at"), ("made", "attempted_at", "mode"), as_of
    )
    per_incident = Counter(r["incident"] for r in responses)
    first_arrival = {}
    for r in responses:
        minutes = _minutes(r["incident__notified_at"], r["arrived_at"])
        if minutes is not None:
            first_arrival[r["incident"]] = min(minutes, first_arrival.get(r["incident"], minutes))
    live_cases = {r["pk"] for r in cases}
    window = timedelta(days=182)
    made = defaultdict(lambda: [0, 0])
    for a in attempts:
        opened = a["case__server_received_at"]
        at = a["attempted_at"]
        if a["case"] in live_cases and a["made"] and at and opened <= at <= opened + window:
            made[a["case"]][0] += 1
            made[a["case"]][1] += a["mode"] == ContactMode.IN_PERSON
    meeting = sum(1 for n, in_person in made.values() if n >= 3 and in_person >= 1)
    n_responses, n_incidents = sum(per_incident.values()), len(per_incident)
    due = [r["next_contact_due"] for r in cases if r["status"] in OPEN_CASE_STATUSES and r["next_contact_due"]]
    overdue = sum(1 for day in due if day < today)
    return {
        "incidents_with_response": n_incidents,
        "scene_responses": n_responses,
        "scene_responses_per_incident": round(n_responses / n_incidents, 2) if n_incidents else None,
        "minutes_notification_to_first_arrival": _median_p90(first_arrival.values()),
        "follow_ups_opened": len(cases),
        "follow_ups_meeting_contact_rule": meeting,
        "follow_ups_overdue": overdue,
        "incidents_by_minutes_to_first_arrival": {
            name: sum(1 for m in first_arrival.values() if low <= m < high) for name, low, high in ARRIVAL_BANDS
        },
        "incidents_by_scene_responses": {
            "1": sum(1 for n in per_incident.values() if n == 1),
            "2": sum(1 for n in per_incident.values() if n == 2),
            "3_or_more": sum(1 for n in per_incident.values() if n >= 3),
        },
    }


def period_querysets(kind, *, program, team_ids, start, end):
    """The records a report ("engagements" or "dvp") counts for a period, by record type, deleted ones too."""
    if kind == "engagements":
        return {"engagement": _engagement_qs(program, team_ids, start, end)}
    responses, cases, attempts = _dvp_querysets(program, team_ids, start, end)
    return {"scene_response": responses, "follow_up_case": cases, "contact_attempt": attempts}


def adjustments_since(kind, *, program, team_ids, start, end, moment):
    """What was recorded, changed or deleted after `moment` among the records the report counts, dated."""
    querysets = period_querysets(kind, program=program, team_ids=team_ids, start=start, end=end)
    return adjustments_after({t: _changes_after(t, qs, moment) for t, qs in querysets.items()})


REPORTS = {"engagements": engagement_report, "dvp": dvp_report}


def report_at(kind, *, program, team_ids, start, end, moment):
    """A report's figures as they stood at `moment`, and what came after it."""
    scope = {"program": program, "team_ids": team_ids, "start": start, "end": end}
    return {
        "moment": moment,
        "figures": REPORTS[kind](**scope, as_of=moment),
        "adjustments": adjustments_since(kind, **scope, moment=moment),
    }


def _closed(kind, *, program, team_ids, start, end, now=None):
    """A closed period's figures as of its close, with what came later as dated adjustments; None when the
    period is still open."""
    if not is_closed(end, now):
        return None
    at = report_at(kind, program=program, team_ids=team_ids, start=start, end=end, moment=closed_at(end))
    return {"closed_at": at["moment"].isoformat(), "figures": at["figures"], "adjustments": at["adjustments"]}


def engagement_closed(**kwargs):
    return _closed("engagements", **kwargs)


def dvp_closed(**kwargs):
    return _closed("dvp", **kwargs)


def shift_report(*, program, team_ids, start, end):
    lo, hi = period_bounds(start, end)
    qs = Shift.objects.filter(
        program=program, team_id__in=team_ids, deleted_at__isnull=True, started_at__gte=lo, started_at__lt=hi
    )
    status = dict(qs.values_list("review_status").annotate(n=Count("id")))
    return {
        "shifts": qs.count(),
        **{s: status.get(s, 0) for s in Shift.ReviewStatus.values},
        "late_records": Engagement.objects.filter(shift__in=qs, is_late=True, deleted_at__isnull=True).count()
        + SceneResponse.objects.filter(shift__in=qs, is_late=True, deleted_at__isnull=True).count(),
    }


def public_table(*, start, end, as_of=None):
    """Counts by month x (program, origin) for publication, before suppression. No persons, no places.

    as_of: the records as they stood then (a month is published as of its close, docs/reports.md)."""
    lo, hi = period_bounds(start, end)
    table = defaultdict(dict)
    engagements = _rows(
        "engagement",
        Engagement.objects.filter(server_received_at__gte=lo, server_received_at__lt=hi),
        ("server_received_at",),
        ("origin",),
        as_of=as_of,
    )
    for (month, origin), n in Counter((_month(r["server_received_at"]), r["origin"]) for r in engagements).items():
        table[month][f"MACRO:{origin}"] = n
    responses = _rows(
        "scene_response",
        SceneResponse.objects.filter(server_received_at__gte=lo, server_received_at__lt=hi),
        ("server_received_at",),
        (),
        as_of=as_of,
    )
    for month, n in Counter(_month(r["server_received_at"]) for r in responses).items():
        table[month]["DVP:scene_response"] = n
    return dict(sorted(table.items()))


def engagements_csv_response(report, start, end):
    """The team x month x origin rows of an engagement report as a CSV download."""
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="engagements-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(["team", "month", "origin", "count"])
    for row in report["by_team_month"]:
        writer.writerow([row["team"], row["month"], row["origin"], row["count"]])
    return response
