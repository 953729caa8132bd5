"""The counts that answer "how much of the work did 911 counts miss", computed in the database.

Every figure excludes deleted records. Periods are [start, end) in local dates, by the time the
server first received the record (device clocks are never trusted for counting).
"""

import statistics
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from incidents.choices import DISPATCHED_ORIGINS, ContactMode, Origin
from incidents.models import ContactAttempt, Engagement, FollowUpCase, SceneResponse, Shift
from records.models import RecordVersion


def period_bounds(start, end):
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), tz),
        timezone.make_aware(datetime.combine(end, time.min), tz),
    )


def _engagements(program, team_ids, start, end):
    lo, hi = period_bounds(start, end)
    return Engagement.objects.filter(
        program=program,
        team_id__in=team_ids,
        deleted_at__isnull=True,
        server_received_at__gte=lo,
        server_received_at__lt=hi,
    )


def _minutes(a, b):
    return (b - a).total_seconds() / 60 if a and b and b >= a else None


def _median_p90(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return {"median": None, "p90": None, "n": 0}
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return {"median": round(statistics.median(values), 1), "p90": round(p90, 1), "n": len(values)}


def engagement_report(*, program, team_ids, start, end):
    qs = _engagements(program, team_ids, start, end)
    by_origin = {row["origin"]: row["n"] for row in qs.values("origin").annotate(n=Count("id"))}
    total = sum(by_origin.values())
    by_team_month = [
        {
            "team": row["team__code"],
            "month": row["month"].date().isoformat()[:7],
            "origin": row["origin"],
            "count": row["n"],
        }
        for row in qs.annotate(month=TruncMonth("server_received_at"))
        .values("team__code", "month", "origin")
        .annotate(n=Count("id"))
        .order_by("month", "team__code", "origin")
    ]
    not_911 = total - by_origin.get(Origin.DISPATCH_911, 0)
    dispatched = sum(by_origin.get(o, 0) for o in DISPATCHED_ORIGINS)
    eligible = qs.filter(eligible=True).count()
    handled = qs.filter(eligible=True).exclude(disposition="unable_to_locate").exclude(disposition="").count()
    times = list(qs.values_list("received_at", "dispatched_at", "on_scene_at"))
    needs, services = Counter(), Counter()
    for row_needs, row_services in qs.values_list("needs", "services"):
        needs.update(row_needs or [])
        services.update(row_services or [])
    return {
        "total": total,
        "by_origin": {code: by_origin.get(code, 0) for code, _ in Origin.choices},
        "on_view": by_origin.get(Origin.ON_VIEW, 0),
        "not_911_dispatch": not_911,
        "share_not_911_dispatch": round(not_911 / total, 3) if total else None,
        "share_on_view": round(by_origin.get(Origin.ON_VIEW, 0) / total, 3) if total else None,
        "dispatched": dispatched,
        "linked_to_cad": qs.exclude(cad_number="").count(),
        "eligible": eligible,
        "eligible_handled": handled,
        "share_eligible_handled": round(handled / eligible, 3) if eligible else None,
        "minutes_received_to_on_scene": _median_p90(_minutes(r, s) for r, _, s in times),
        "minutes_dispatched_to_on_scene": _median_p90(_minutes(d, s) for _, d, s in times),
        "needs": dict(sorted(needs.items())),
        "services": dict(sorted(services.items())),
        "late_records": qs.filter(is_late=True).count(),
        "by_team_month": by_team_month,
    }


def engagement_report_as_of(*, program, team_ids, start, end, as_of):
    """The origin counts as they stood at `as_of`, and the labelled difference that arrived later."""
    lo, hi = period_bounds(start, end)
    versions = (
        RecordVersion.objects.filter(
            record_type="engagement",
            at__lte=as_of,
            record_id__in=Engagement.objects.filter(
                program=program, team_id__in=team_ids, server_received_at__gte=lo, server_received_at__lt=hi
            ).values("pk"),
        )
        .order_by("record_id", "-version")
        .distinct("record_id")
        .values_list("record_id", "data", "changed_fields")
    )
    then = Counter()
    for _record_id, data, changed in versions:
        if "_deleted" not in changed:
            then[data.get("origin")] += 1
    now = engagement_report(program=program, team_ids=team_ids, start=start, end=end)["by_origin"]
    return {
        "as_of": as_of.isoformat(),
        "by_origin": {code: then.get(code, 0) for code, _ in Origin.choices},
        "total": sum(then.values()),
        "received_or_changed_later": {code: now[code] - then.get(code, 0) for code, _ in Origin.choices},
    }


def dvp_report(*, program, team_ids, start, end, today=None):
    lo, hi = period_bounds(start, end)
    today = today or timezone.localdate()
    responses = SceneResponse.objects.filter(
        program=program,
        team_id__in=team_ids,
        deleted_at__isnull=True,
        incident__occurred_at__gte=lo,
        incident__occurred_at__lt=hi,
    )
    per_incident = list(responses.values("incident").annotate(n=Count("id")).values_list("n", flat=True))
    first_arrival = {}
    for incident_id, notified, arrived in responses.values_list("incident", "incident__notified_at", "arrived_at"):
        minutes = _minutes(notified, arrived)
        if minutes is not None:
            first_arrival[incident_id] = min(minutes, first_arrival.get(incident_id, minutes))
    cases = FollowUpCase.objects.filter(
        program=program,
        team_id__in=team_ids,
        deleted_at__isnull=True,
        server_received_at__gte=lo,
        server_received_at__lt=hi,
    )
    window = timedelta(days=182)
    made = defaultdict(lambda: [0, 0])
    for case_id, opened, attempted, mode in ContactAttempt.objects.filter(
        case__in=cases, made=True, deleted_at__isnull=True
    ).values_list("case", "case__server_received_at", "attempted_at", "mode"):
        if opened <= attempted <= opened + window:
            made[case_id][0] += 1
            made[case_id][1] += mode == ContactMode.IN_PERSON
    meeting = sum(1 for n, in_person in made.values() if n >= 3 and in_person >= 1)
    return {
        "incidents_with_response": len(per_incident),
        "scene_responses": sum(per_incident),
        "scene_responses_per_incident": round(sum(per_incident) / len(per_incident), 2) if per_incident else None,
        "minutes_notification_to_first_arrival": _median_p90(first_arrival.values()),
        "follow_ups_opened": cases.count(),
        "follow_ups_meeting_contact_rule": meeting,
        "follow_ups_overdue": cases.filter(
            status__in=["open", "in_mediation", "temporarily_resolved"], next_contact_due__lt=today
        ).count(),
    }


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


def public_table(*, start, end):
    """Counts by month x (program, origin) for publication, before suppression. No persons, no places."""
    lo, hi = period_bounds(start, end)
    table = defaultdict(dict)
    rows = (
        Engagement.objects.filter(deleted_at__isnull=True, server_received_at__gte=lo, server_received_at__lt=hi)
        .annotate(month=TruncMonth("server_received_at"))
        .values("month", "origin")
        .annotate(n=Count("id"))
    )
    for row in rows:
        table[row["month"].date().isoformat()[:7]][f"MACRO:{row['origin']}"] = row["n"]
    dvp = (
        SceneResponse.objects.filter(deleted_at__isnull=True, server_received_at__gte=lo, server_received_at__lt=hi)
        .annotate(month=TruncMonth("server_received_at"))
        .values("month")
        .annotate(n=Count("id"))
    )
    for row in dvp:
        table[row["month"].date().isoformat()[:7]]["DVP:scene_response"] = row["n"]
    return dict(sorted(table.items()))


def engagements_csv_response(report, start, end):
    """The team x month x origin rows of an engagement report as a CSV download."""
    import csv

    from django.http import HttpResponse

    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="engagements-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(["team", "month", "origin", "count"])
    for row in report["by_team_month"]:
        writer.writerow([row["team"], row["month"], row["origin"], row["count"]])
    return response
