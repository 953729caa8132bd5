"""Report pages for supervisors, coordinators, program admins and analysts (docs/reports.md, "Pages").

The same selectors and the same scope as the API (`report_scope`): a team's supervisor or coordinator sees
that team, program-wide roles the whole program, nobody the other program. Every table has a CSV.
"""

import csv
from datetime import datetime, time, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import AuditEvent
from audit.services import audit_record
from backend.dates import parse_day, stored_moment
from backend.errors import DomainError, Forbidden, NotFound, http_status
from incidents.choices import Need, Origin, Service
from incidents.models import Engagement, FollowUpCase, SceneResponse
from records.access import report_programs, report_scope
from responders import selectors as people
from responders.models import Program, Team
from responders.web_auth import second_factor_satisfied

from . import charts, selectors

PRESETS = ["last_30_days", "this_month", "last_month", "custom"]


def preset_label(code):
    return {
        "this_month": _("This month"),
        "last_30_days": _("Last 30 days"),
        "last_month": _("Last month"),
        "custom": _("Dates below"),
    }[code]


def record_words(record_type, n):
    words = {
        "engagement": ngettext("%(n)d engagement", "%(n)d engagements", n),
        "scene_response": ngettext("%(n)d scene response", "%(n)d scene responses", n),
        "follow_up_case": ngettext("%(n)d follow-up case", "%(n)d follow-up cases", n),
        "contact_attempt": ngettext("%(n)d contact attempt", "%(n)d contact attempts", n),
    }
    return words[record_type] % {"n": n}


def adjustment_text(adjustment, moment_label):
    """ "+1 scene response recorded after close (3 Dec 2026)"."""
    what = record_words(adjustment["record_type"], adjustment["count"])
    kind = {
        "recorded": _("recorded after %(moment)s"),
        "changed": _("changed after %(moment)s"),
        "deleted": _("deleted after %(moment)s"),
    }[adjustment["kind"]] % {"moment": moment_label}
    first = date_format(stored_moment(adjustment["first"]).date(), "j M Y")
    last = date_format(stored_moment(adjustment["last"]).date(), "j M Y")
    dates = first if first == last else f"{first} – {last}"
    sign = "−" if adjustment["kind"] == "deleted" else "+"
    return f"{sign}{what} {kind} ({dates})"


def reports_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not second_factor_satisfied(request):
            logout(request)
            return redirect_to_login(request.get_full_path())
        programs = report_programs(request.user)
        if not programs:
            return render(request, "reports/no_reports.html", status=403)
        request.report_programs = programs
        try:
            with translation.override(page_language(request)):
                return view(request, *args, **kwargs)
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise Http404(exc.message) from None
            if isinstance(exc, Forbidden):
                raise PermissionDenied(exc.message) from None
            return HttpResponse(exc.message, status=http_status(exc), content_type="text/plain")

    return wrapped


def _counted(kind, program, team_ids):
    """[(queryset, time field)]: the records a report of this kind counts, and the time that places each one in a
    period (engagements by arrival at the server, scene responses by their incident, follow-ups by opening)."""
    base = {"program": program, "team_id__in": team_ids, "deleted_at__isnull": True}
    if kind == "engagements":
        return [(Engagement.objects.filter(**base), "server_received_at")]
    return [
        (SceneResponse.objects.filter(**base), "incident__occurred_at"),
        (FollowUpCase.objects.filter(**base), "server_received_at"),
    ]


def _has_data(kind, program, team_ids, start, end):
    lo, hi = selectors.period_bounds(start, end)
    return any(
        qs.filter(**{f"{when}__gte": lo, f"{when}__lt": hi}).exists() for qs, when in _counted(kind, program, team_ids)
    )


def _newest_day(kind, program, team_ids):
    """The local day of the newest record a report counts, or None."""
    moments = [
        qs.order_by(f"-{when}").values_list(when, flat=True).first() for qs, when in _counted(kind, program, team_ids)
    ]
    moments = [m for m in moments if m is not None]
    return timezone.localtime(max(moments)).date() if moments else None


def _preset_bounds(preset, today):
    first = today.replace(day=1)
    if preset == "last_30_days":
        return today - timedelta(days=29), today + timedelta(days=1)
    if preset == "last_month":
        return (first - timedelta(days=1)).replace(day=1), first
    return first, (first + timedelta(days=32)).replace(day=1)


def page_request(request):
    """What the page or CSV is asked for: program (the user's own by default), teams, period, moment."""
    params = request.GET
    code = params.get("program") or request.report_programs[0]
    program, team_ids = report_scope(request.user, code, params.get("team") or None)
    kind = "engagements" if program.code == Program.Code.MACRO else "dvp"
    today = timezone.localdate()
    preset = params.get("period") or ""
    # The form sends the dates it showed (shown_start, shown_end) beside the ones submitted: dates the person
    # changed win over the period menu; a period picked from the menu wins over dates left as they were.
    dates = (params.get("start") or "", params.get("end") or "")
    dates_changed = dates != (params.get("shown_start") or "", params.get("shown_end") or "")
    if preset == "custom" or (any(dates) and (preset not in PRESETS or dates_changed)):
        default_start, default_end = _preset_bounds("this_month", today)
        start = parse_day(params.get("start"), "start", default_start)
        end = parse_day(params.get("end"), "end", default_end)
        if start >= end or (end - start).days > 3700:
            raise DomainError("invalid_period", _("The first day must come before the day after the last."))
        preset = "custom"
    elif preset in PRESETS:
        start, end = _preset_bounds(preset, today)
    else:
        # The last 30 days (a month's first days are never empty); if they hold nothing, the newest month that does.
        preset = "last_30_days"
        start, end = _preset_bounds(preset, today)
        if not _has_data(kind, program, team_ids, start, end):
            newest = _newest_day(kind, program, team_ids)
            if newest is not None:
                preset = "custom"
                start = newest.replace(day=1)
                end = (start + timedelta(days=32)).replace(day=1)
    as_of_day = parse_day(params.get("as_of"), "as_of", None)
    current = params.get("figures") == "current"
    closed = selectors.is_closed(end)
    if as_of_day is not None:
        moment = timezone.make_aware(datetime.combine(as_of_day + timedelta(days=1), time.min))
        mode = "as_of"
    elif closed and not current:
        moment, mode = selectors.closed_at(end), "closed"
    else:
        moment, mode = None, "current"
    return {
        "program": program,
        "team_ids": team_ids,
        "team": params.get("team") or "",
        "kind": kind,
        "preset": preset,
        "start": start,
        "end": end,
        "as_of_day": as_of_day,
        "closed": closed,
        "moment": moment,
        "mode": mode,
        "lang": params.get("lang") if params.get("lang") in ("en", "es") else "",
    }


def _figures(ask):
    """The report's figures (at the asked moment, if any), the adjustments since, and the shift report."""
    scope = {"program": ask["program"], "team_ids": ask["team_ids"], "start": ask["start"], "end": ask["end"]}
    if ask["moment"] is None:
        figures, adjustments = selectors.REPORTS[ask["kind"]](**scope), []
    else:
        at = selectors.report_at(ask["kind"], **scope, moment=ask["moment"])
        figures, adjustments = at["figures"], at["adjustments"]
    return figures, adjustments, selectors.shift_report(**scope)


def arrival_label(band):
    return {
        "under_15": _("under 15 min"),
        "15_to_30": _("15 to 30 min"),
        "30_to_60": _("30 to 60 min"),
        "60_to_120": _("1 to 2 hours"),
        "120_or_more": _("2 hours or more"),
    }[band]


def responses_label(key):
    return {"1": "1", "2": "2", "3_or_more": _("3 or more")}[key]


def _pct(share):
    return "—" if share is None else f"{round(share * 100)}%"


def _num(value):
    return "—" if value is None else f"{value:g}"


def choice_labels(choices):
    """Code -> label in the page's language (the labels' Spanish is in the field app's catalogue)."""
    return {code: _(label) for code, label in choices}


def page_language(request):
    """`?lang=es`, else the browser's language; English or Spanish."""
    wanted = request.GET.get("lang") or translation.get_language_from_request(request)
    wanted = (wanted or "en").split("-")[0].lower()
    return wanted if wanted in ("en", "es") else "en"


def tables_for(ask, figures, shifts, adjustments, moment_label):
    """Every table on the page, in order: {slug: (title, headers, rows)}. The CSV of a table is these rows."""
    out = {}
    if ask["kind"] == "engagements":
        _engagement_tables(out, figures)
        _engagement_breakdowns(out, ask, figures)
    else:
        _dvp_tables(out, figures)
    out["shifts"] = (
        _("Shift logs"),
        [_("State"), _("Shift logs")],
        [
            [_("All"), shifts["shifts"]],
            [_("Open"), shifts["open"]],
            [_("Awaiting review"), shifts["submitted"]],
            [_("Approved"), shifts["approved"]],
            [_("Returned"), shifts["returned"]],
            [_("Records that arrived after approval"), shifts["late_records"]],
        ],
    )
    out["adjustments"] = (
        _("Recorded after the figures above"),
        [_("What"), _("Records"), _("First"), _("Last")],
        [[adjustment_text(a, moment_label), a["count"], a["first"], a["last"]] for a in adjustments],
    )
    return out


def _engagement_tables(out, figures):
    origins = choice_labels(Origin.choices)
    f = figures
    out["summary"] = (
        _("Summary"),
        [_("Figure"), _("Value")],
        [
            [_("Engagements"), f["total"]],
            [_("Not a 911 dispatch"), f"{f['not_911_dispatch']} ({_pct(f['share_not_911_dispatch'])})"],
            [_("On-view (self-initiated)"), f"{f['on_view']} ({_pct(f['share_on_view'])})"],
            [_("Came through dispatch"), f["dispatched"]],
            [_("Linked to a CAD number"), f["linked_to_cad"]],
            [_("Eligible for MACRO"), f["eligible"]],
            [_("Eligible and handled"), f"{f['eligible_handled']} ({_pct(f['share_eligible_handled'])})"],
            [
                _("Call received to on scene, minutes (median / 90th percentile)"),
                f"{_num(f['minutes_received_to_on_scene']['median'])} / "
                f"{_num(f['minutes_received_to_on_scene']['p90'])}",
            ],
            [
                _("Dispatched to on scene, minutes (median / 90th percentile)"),
                f"{_num(f['minutes_dispatched_to_on_scene']['median'])} / "
                f"{_num(f['minutes_dispatched_to_on_scene']['p90'])}",
            ],
            [_("Arrived after their shift log was approved"), f["late_records"]],
        ],
    )
    total = f["total"]
    out["origins"] = (
        _("Engagements by how the work reached the crew"),
        [_("Origin"), _("Engagements"), _("Share")],
        [[origins[c], n, _pct(n / total if total else None)] for c, n in f["by_origin"].items()],
    )
    out["over-time"] = (
        _("By day") if f["series"]["by"] == "day" else _("By month"),
        [
            _("Day") if f["series"]["by"] == "day" else _("Month"),
            *origins.values(),
            _("Total"),
            _("On-view share"),
            _("Eligible"),
        ],
        [
            [
                p["bucket"],
                *p["by_origin"].values(),
                p["total"],
                _pct(p["share_on_view"]),
                _pct(p["share_eligible"]),
            ]
            for p in f["series"]["points"]
        ],
    )


def _engagement_breakdowns(out, ask, figures):
    f = figures
    origins, needs = choice_labels(Origin.choices), choice_labels(Need.choices)
    services = choice_labels(Service.choices)
    teams = dict(Team.objects.filter(pk__in=ask["team_ids"]).values_list("code", "name"))
    out["team-month"] = (
        _("By team, month and origin"),
        [_("Team"), _("Month"), _("Origin"), _("Engagements")],
        [[teams.get(r["team"], r["team"]), r["month"], origins[r["origin"]], r["count"]] for r in f["by_team_month"]],
    )
    out["needs"] = (
        _("Needs recorded"),
        [_("Need"), _("Engagements")],
        [[needs.get(c, c), n] for c, n in sorted(f["needs"].items(), key=lambda kv: -kv[1])],
    )
    out["services"] = (
        _("Services given"),
        [_("Service"), _("Engagements")],
        [[services.get(c, c), n] for c, n in sorted(f["services"].items(), key=lambda kv: -kv[1])],
    )


def _dvp_tables(out, figures):
    d = figures
    arrival = d["minutes_notification_to_first_arrival"]
    out["summary"] = (
        _("Summary"),
        [_("Figure"), _("Value")],
        [
            [_("Incidents with a scene response"), d["incidents_with_response"]],
            [_("Scene responses"), d["scene_responses"]],
            [_("Scene responses per incident"), _num(d["scene_responses_per_incident"])],
            [
                _("DVP notified to first arrival, minutes (median / 90th percentile)"),
                f"{_num(arrival['median'])} / {_num(arrival['p90'])}",
            ],
            [_("Follow-up cases opened"), d["follow_ups_opened"]],
            [
                _("Meeting the contact rule (3 contacts made within 6 months, 1 in person)"),
                d["follow_ups_meeting_contact_rule"],
            ],
            [_("Overdue for contact"), d["follow_ups_overdue"]],
        ],
    )
    out["arrival"] = (
        _("Incidents by minutes from notification to first arrival"),
        [_("Minutes"), _("Incidents")],
        [[arrival_label(band), n] for band, n in d["incidents_by_minutes_to_first_arrival"].items()],
    )
    out["responses-per-incident"] = (
        _("Incidents by number of scene responses"),
        [_("Scene responses"), _("Incidents")],
        [[responses_label(k), n] for k, n in d["incidents_by_scene_responses"].items()],
    )


def _moment_label(ask):
    if ask["mode"] == "closed":
        return _("close")
    if ask["mode"] == "as_of":
        return date_format(ask["as_of_day"], "j M Y")
    return ""


def _chart(draw, chart_id, title, *args, **kwargs):
    return {"title": title, "svg": draw(chart_id, title, *args, **kwargs)}


def _charts(ask, figures):
    if ask["kind"] == "engagements":
        origins = choice_labels(Origin.choices)
        points = figures["series"]["points"]
        labels = [p["bucket"][5:] if figures["series"]["by"] == "day" else p["bucket"] for p in points]
        return [
            _chart(
                charts.stacked_bars,
                "chart-origins",
                _("Origin mix over time"),
                _("Engagements per %(unit)s, stacked by how the work reached the crew (numbers in the table below).")
                % {"unit": _("day") if figures["series"]["by"] == "day" else _("month")},
                labels,
                list(origins.items()),
                [p["by_origin"] for p in points],
            ),
            _chart(
                charts.share_lines,
                "chart-shares",
                _("On-view share and eligible share over time"),
                _("Share of engagements that were on-view, and share marked eligible for MACRO, in per cent."),
                labels,
                [("share_on_view", _("On-view share")), ("share_eligible", _("Eligible"))],
                points,
            ),
        ]
    bands = figures["incidents_by_minutes_to_first_arrival"]
    followups = [
        (_("Opened"), figures["follow_ups_opened"]),
        (_("Meeting the contact rule"), figures["follow_ups_meeting_contact_rule"]),
        (_("Overdue for contact"), figures["follow_ups_overdue"]),
    ]
    return [
        _chart(
            charts.horizontal_bars,
            "chart-response-times",
            _("DVP response times"),
            _("Incidents by minutes from DVP's notification to the first arrival on scene."),
            [(arrival_label(band), n) for band, n in bands.items()],
        ),
        _chart(
            charts.horizontal_bars,
            "chart-follow-ups",
            _("Follow-up compliance"),
            _("Follow-up cases opened in the period, those meeting the contact rule, and those overdue."),
            followups,
        ),
    ]


def _query(ask, **changes):
    params = {
        "program": ask["program"].code,
        "period": ask["preset"],
        "start": ask["start"].isoformat(),
        "end": ask["end"].isoformat(),
    }
    if ask["team"]:
        params["team"] = ask["team"]
    if ask["as_of_day"]:
        params["as_of"] = ask["as_of_day"].isoformat()
    if ask["lang"]:
        params["lang"] = ask["lang"]
    if ask["mode"] == "current" and ask["closed"]:
        params["figures"] = "current"
    params.update(changes)
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


@reports_required
def report_page(request):
    ask = page_request(request)
    figures, adjustments, shifts = _figures(ask)
    label = _moment_label(ask)
    tables = tables_for(ask, figures, shifts, adjustments, label)
    query = _query(ask)
    scope_teams = Team.objects.filter(pk__in=ask["team_ids"]).order_by("code")
    membership = people.membership_for_program(request.user, ask["program"].pk)
    all_teams = (
        Team.objects.filter(program=ask["program"]).order_by("code") if membership.team_id is None else scope_teams
    )
    context = {
        "ask": ask,
        "programs": request.report_programs,
        "presets": [(p, preset_label(p)) for p in PRESETS],
        "teams": all_teams,
        "team_names": ", ".join(t.name for t in scope_teams),
        "last_day": ask["end"] - timedelta(days=1),
        "closed_at": selectors.closed_at(ask["end"]),
        "grace_days": settings.REPORT_CLOSE_GRACE_DAYS,
        "adjustment_lines": [adjustment_text(a, label) for a in adjustments],
        "charts": _charts(ask, figures),
        "tables": [
            {
                "slug": slug,
                "title": title,
                "headers": headers,
                "rows": rows,
                "csv": f"{reverse('reports-csv', args=[slug])}?{query}",
            }
            for slug, (title, headers, rows) in tables.items()
            if slug != "adjustments" or rows
        ],
        "current_url": f"?{_query(ask, figures='current')}",
        "closed_url": f"?{_query(ask, figures=None)}",
        "is_reviewer": bool(people.reviewable_team_ids(request.user)),
        "language": translation.get_language(),
        "english_url": f"?{_query(ask, lang='en')}",
        "spanish_url": f"?{_query(ask, lang='es')}",
    }
    return render(request, "reports/report.html", context)


@reports_required
def report_csv(request, table):
    ask = page_request(request)
    figures, adjustments, shifts = _figures(ask)
    tables = tables_for(ask, figures, shifts, adjustments, _moment_label(ask))
    if table not in tables:
        raise Http404
    title, headers, rows = tables[table]
    audit_record(
        action=AuditEvent.Action.EXPORT,
        actor=request.user,
        program=ask["program"],
        object_type="report",
        object_id=f"{ask['kind']}:{table}",
        request=request,
        start=ask["start"].isoformat(),
        end=ask["end"].isoformat(),
        teams=sorted(ask["team_ids"]),
        figures=ask["mode"],
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{ask['program'].code.lower()}-{table}-{ask['start']}-{ask['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(headers)
    writer.writerows(rows)
    return response


@reports_required
def old_address(request):
    """/supervisor/reports/, where the reports were for supervisors only: the same query, here."""
    page_request(request)  # outside the caller's scope: refused here, as there
    query = request.META.get("QUERY_STRING", "")
    return redirect(reverse("reports-page") + (f"?{query}" if query else ""))
