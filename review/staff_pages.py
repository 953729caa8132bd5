"""Pages that read records for supervisors and coordinators: one record with its history, the DVP follow-up
worklists and case pages, incidents with their scene responses, and the MACRO team activity.

Every read goes through the API's scope (records/access.py::scoped_queryset) narrowed to the teams the reader
holds a staff role in (review/access.py); restricted fields are hidden as the API hides them
(records/redaction.py). A record outside that scope is a 404 with nothing of it on the page.
"""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from backend.errors import DomainError, Forbidden, NotFound, django_validation_error_fields
from incidents.choices import CASE_STATUS_TRANSITIONS, CaseStatus
from incidents.models import Shift
from records.access import get_for_write, scoped_queryset
from records.models import RecordVersion
from records.redaction import hidden_fields, redact_fields
from records.registry import get_spec
from records.wire import to_wire
from records.writes import WriteContext, record_update
from responders import selectors as people_selectors
from responders.models import Team
from sync.models import Mutation

from . import labels
from .access import staff_required, staff_team_ids
from .pages import ACTIVE_CASE, reference_refs, titles_for

RECORD_TYPES = {"engagement", "incident", "scene_response", "follow_up_case", "contact_attempt"}


def _scoped(request, record_type, include_deleted=False):
    return scoped_queryset(get_spec(record_type), request.user, include_deleted=include_deleted).filter(
        team_id__in=request.staff_teams
    )


def history(request, record_type, record, people):
    """Each version: when, who (and who corrected a resent change on their behalf), each field before → after."""
    hidden = hidden_fields(record_type, request.user, record.program_id)
    versions = list(RecordVersion.objects.filter(record_id=record.pk).order_by("version"))
    people.add([v.author_id for v in versions])
    fixers = dict(
        Mutation.objects.filter(
            pk__in=[v.mutation_id for v in versions if v.mutation_id], replayed_by__isnull=False
        ).values_list("pk", "replayed_by")
    )
    people.add(fixers.values())
    refs = [ref for v in versions for ref in reference_refs(record_type, v.data or {})]
    titles = titles_for(request.user, refs)
    out, before = [], {}
    for v in versions:
        data = v.data or {}
        changed = [n for n in (v.changed_fields or []) if n not in hidden]
        if v.version == 1:
            changed = [n for n in data if n not in hidden and data.get(n) not in (None, "", [], {})]
        out.append(
            {
                "version": v.version,
                "at": labels.when(v.at),
                "author": people.name(v.author_id),
                "fixed_by": people.name(fixers[v.mutation_id]) if v.mutation_id in fixers else "",
                "changes": [
                    {
                        "label": labels.field_label(record_type, n),
                        "before": labels.value_text(record_type, n, before.get(n), people, titles),
                        "after": labels.value_text(record_type, n, data.get(n), people, titles),
                    }
                    for n in changed
                ],
            }
        )
        before = data
    return list(reversed(out))


@staff_required
def record_detail(request, record_type, record_id):
    if record_type not in RECORD_TYPES:
        raise Http404
    record = _scoped(request, record_type, include_deleted=True).filter(pk=record_id).first()
    if record is None:
        raise Http404
    data = redact_fields(
        record_type, to_wire(get_spec(record_type), record, request.user), request.user, record.program_id
    )
    people = labels.People([record.created_by_id])
    titles = titles_for(request.user, reference_refs(record_type, data))
    context = {
        "record": record,
        "record_type": record_type,
        "type_label": labels.type_label(record_type),
        "title": labels.record_title(record_type, record),
        "rows": labels.rows(record_type, data, people, titles),
        "created_by": people.name(record.created_by_id),
        "history": history(request, record_type, record, people),
        "shift": getattr(record, "shift", None) if record_type in ("engagement", "scene_response") else None,
    }
    if record_type == "follow_up_case":
        return redirect("supervisor-case", case_id=record.pk)
    return render(request, "review/record.html", context)


# --- DVP follow-ups ----------------------------------------------------------------------------------------

VIEWS = {
    "overdue": lambda qs, today: qs.filter(next_contact_due__lt=today),
    "due": lambda qs, today: qs.filter(next_contact_due__gte=today, next_contact_due__lte=today + timedelta(days=7)),
    "all": lambda qs, today: qs,
}


def _dvp_teams(request):
    return request.staff_teams & staff_team_ids(request.user, program_codes={"DVP"})


def _by_interrupter(active, today):
    """Open, overdue and due cases per interrupter, for the table beside the worklist."""
    by_person = (
        active.values("assigned_to", "assigned_to__username", "assigned_to__first_name", "assigned_to__last_name")
        .annotate(n=Count("id"))
        .order_by("assigned_to__username")
    )
    overdue_by = dict(active.filter(next_contact_due__lt=today).values_list("assigned_to").annotate(n=Count("id")))
    due_by = dict(VIEWS["due"](active, today).values_list("assigned_to").annotate(n=Count("id")))
    people = [
        {
            "id": row["assigned_to"],
            "name": " ".join(filter(None, [row["assigned_to__first_name"], row["assigned_to__last_name"]]))
            or row["assigned_to__username"]
            or _("Unassigned"),
            "open": row["n"],
            "overdue": overdue_by.get(row["assigned_to"], 0),
            "due": due_by.get(row["assigned_to"], 0),
        }
        for row in by_person
    ]
    return people


@staff_required
def follow_ups(request, view=None):
    view = view or request.GET.get("view") or "due"
    if view not in VIEWS or not _dvp_teams(request):
        raise Http404
    today = timezone.localdate()
    active = (
        _scoped(request, "follow_up_case")
        .filter(team_id__in=_dvp_teams(request), status__in=ACTIVE_CASE)
        .select_related("team", "assigned_to")
    )
    interrupter = request.GET.get("interrupter") or ""
    cases = VIEWS[view](active, today)
    if interrupter.isdigit():
        cases = cases.filter(assigned_to_id=int(interrupter))
    cases = list(cases.order_by("next_contact_due", "id")[:300])
    people = _by_interrupter(active, today)
    rows = [
        {
            "case": c,
            "title": labels.record_title("follow_up_case", c),
            "assigned": labels.display_name(c.assigned_to) or _("Unassigned"),
            "due": labels.day(c.next_contact_due) if c.next_contact_due else "—",
            "overdue": bool(c.next_contact_due and c.next_contact_due < today),
            "status": labels.value_text("follow_up_case", "status", c.status),
        }
        for c in cases
    ]
    headings = {
        "overdue": _("Overdue follow-ups"),
        "due": _("Follow-ups due in the next 7 days"),
        "all": _("All open follow-ups"),
    }
    summary = ngettext("%(n)s case", "%(n)s cases", len(rows)) % {"n": len(rows)}
    return render(
        request,
        "review/follow_ups.html",
        {
            "view": view,
            "heading": headings[view],
            "summary": summary,
            "rows": rows,
            "people": people,
            "interrupter": interrupter,
        },
    )


def _case(request, case_id, for_write=False):
    case = (
        _scoped(request, "follow_up_case")
        .filter(team_id__in=_dvp_teams(request))
        .select_related("team", "assigned_to")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise Http404
    return case


def _assignable(case):
    """Who a case can go to: active field responders and coordinators of its team (or of the whole program)."""
    return people_selectors.case_assignees(program_id=case.program_id, team_id=case.team_id)


@staff_required
def case_detail(request, case_id):
    case = _case(request, case_id)
    data = redact_fields(
        "follow_up_case", to_wire(get_spec("follow_up_case"), case, request.user), request.user, case.program_id
    )
    people = labels.People([case.created_by_id])
    titles = titles_for(request.user, reference_refs("follow_up_case", data))
    attempts = list(_scoped(request, "contact_attempt").filter(case=case).order_by("-attempted_at", "id"))
    people.add([a.created_by_id for a in attempts])
    made = sum(1 for a in attempts if a.made)
    closable = CaseStatus.CLOSED in CASE_STATUS_TRANSITIONS.get(case.status, set())
    context = {
        "case": case,
        "title": labels.record_title("follow_up_case", case),
        "rows": labels.rows("follow_up_case", data, people, titles),
        "attempts": [
            {
                "when": labels.when(a.attempted_at),
                "by": people.name(a.created_by_id),
                "made": _("Made") if a.made else _("Not made"),
                "mode": labels.value_text("contact_attempt", "mode", a.mode),
                "outcome": labels.value_text("contact_attempt", "outcome", a.outcome) or "—",
                "notes": a.notes,
                "id": a.pk,
            }
            for a in attempts
        ],
        "attempts_summary": ngettext(
            "%(n)s contact attempt, %(made)s made", "%(n)s contact attempts, %(made)s made", len(attempts)
        )
        % {"n": len(attempts), "made": made},
        "assignable": _assignable(case),
        "closable": closable,
        "history": history(request, "follow_up_case", case, people),
    }
    return render(request, "review/case.html", context)


def _write_case(request, case_id, data, audit_detail):
    spec = get_spec("follow_up_case")
    with transaction.atomic():
        _case(request, case_id)  # in the reader's staff scope, or 404
        instance = get_for_write(spec, request.user, case_id)
        ctx = WriteContext(actor=request.user, device=None, request=request)
        record_update(spec=spec, ctx=ctx, instance=instance, data=data)


def _errors_text(exc):
    fields = django_validation_error_fields(exc) if isinstance(exc, ValidationError) else (exc.fields or {})
    parts = [e.get("message", "") for errs in fields.values() for e in errs if isinstance(e, dict)]
    return " ".join(parts) or getattr(exc, "message", "") or _("The change was refused.")


@require_POST
@staff_required
def case_action(request, case_id, action):
    if action not in ("reassign", "close"):
        raise Http404
    case = _case(request, case_id)
    if action == "reassign":
        to = request.POST.get("assigned_to", "")
        if not to.isdigit() or int(to) not in {u.pk for u in _assignable(case)}:
            messages.error(request, _("Choose someone on this case's team."))
            return redirect("supervisor-case", case_id=case_id)
        data = {"assigned_to": int(to)}
        done = _("Case reassigned.")
    else:
        reason = request.POST.get("reason", "").strip()[:1000]
        if not reason:
            messages.error(request, _("Say why the case is closed."))
            return redirect("supervisor-case", case_id=case_id)
        stamp = timezone.localdate().isoformat()
        notes = f"{case.notes}\n\n" if case.notes else ""
        data = {"status": CaseStatus.CLOSED, "notes": f"{notes}[{stamp}] {_('Closed')}: {reason}"[:10000]}
        done = _("Case closed.")
    try:
        _write_case(request, case_id, data, action)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, (NotFound, Forbidden)):
            raise
        messages.error(request, _errors_text(exc))
        return redirect("supervisor-case", case_id=case_id)
    messages.success(request, done)
    return redirect("supervisor-case", case_id=case_id)


# --- DVP incidents ------------------------------------------------------------------------------------------


@staff_required
def incidents(request):
    if not _dvp_teams(request):
        raise Http404
    rows = list(
        _scoped(request, "incident").filter(team_id__in=_dvp_teams(request)).order_by("-occurred_at", "id")[:100]
    )
    responses = (
        _scoped(request, "scene_response")
        .filter(incident__in=rows)
        .select_related("shift")
        .order_by("arrived_at", "id")
    )
    people = labels.People()
    by_incident = {}
    for r in responses:
        people.add(r.responders)
        by_incident.setdefault(r.incident_id, []).append(r)
    items = []
    for incident in rows:
        data = redact_fields(
            "incident", to_wire(get_spec("incident"), incident, request.user), request.user, incident.program_id
        )
        visits = by_incident.get(incident.pk, [])
        items.append(
            {
                "incident": incident,
                "title": labels.record_title("incident", incident),
                "rows": labels.rows("incident", data, people, skip=("dvp_number",)),
                "count": ngettext("%(n)s scene response", "%(n)s scene responses", len(visits)) % {"n": len(visits)},
                "responses": [
                    {
                        "id": r.pk,
                        "title": labels.record_title("scene_response", r),
                        "rows": labels.rows(
                            "scene_response",
                            redact_fields(
                                "scene_response",
                                to_wire(get_spec("scene_response"), r, request.user),
                                request.user,
                                r.program_id,
                            ),
                            people,
                            {str(r.shift_id): r.shift.call_sign} if r.shift_id else {},
                            skip=("incident",),
                        ),
                    }
                    for r in visits
                ],
            }
        )
    return render(request, "review/incidents.html", {"items": items})


# --- MACRO team activity ------------------------------------------------------------------------------------


@staff_required
def activity(request):
    macro_teams = request.staff_teams & staff_team_ids(request.user, program_codes={"MACRO"})
    if not macro_teams:
        raise Http404
    days = 7
    since = timezone.now() - timedelta(days=days)
    engagements = _scoped(request, "engagement").filter(team_id__in=macro_teams, server_received_at__gte=since)
    by_team_origin = engagements.values_list("team", "origin").annotate(n=Count("id"))
    origin_label = {c["value"]: c["label"] for c in labels.forms()["engagement"]["fields"]["origin"]["choices"]}
    teams = {t.pk: t for t in Team.objects.filter(pk__in=macro_teams).order_by("code")}
    summary = {pk: {"team": t, "origins": [], "total": 0, "shifts": 0, "open_shifts": 0} for pk, t in teams.items()}
    for team_id, origin, n in by_team_origin:
        summary[team_id]["origins"].append({"label": origin_label.get(origin, origin), "n": n})
        summary[team_id]["total"] += n
    shifts = list(
        Shift.objects.filter(team_id__in=macro_teams, deleted_at__isnull=True, started_at__gte=since)
        .select_related("team")
        .annotate(n=Count("engagements"))
        .order_by("-started_at")[:50]
    )
    people = labels.People([i for s in shifts for i in s.crew])
    for s in shifts:
        summary[s.team_id]["shifts"] += 1
        summary[s.team_id]["open_shifts"] += s.review_status in ("open", "returned")
    for row in summary.values():
        row["total_text"] = ngettext("%(n)s engagement", "%(n)s engagements", row["total"]) % {"n": row["total"]}
        row["shifts_text"] = ngettext("%(n)s shift", "%(n)s shifts", row["shifts"]) % {"n": row["shifts"]}
    recent = [
        {
            "shift": s,
            "crew": ", ".join(people.name(i) for i in s.crew),
            "when": labels.when(s.started_at),
            "count": ngettext("%(n)s engagement", "%(n)s engagements", s.n) % {"n": s.n},
            "status": s.get_review_status_display(),
        }
        for s in shifts
    ]
    return render(
        request,
        "review/activity.html",
        {"teams": list(summary.values()), "recent": recent, "days": days},
    )
