"""Server-rendered pages for supervisors and coordinators: the same selectors and services as the API, with
session login (review/access.py decides who may open what)."""

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents.models import FollowUpCase, Shift
from records.access import scoped_queryset
from records.models import Amendment, Conflict
from records.redaction import CONFLICT_VALUES, HIDDEN, hidden_fields, redact_fields
from records.registry import get_spec
from records.wire import to_wire
from responders import selectors
from responders.models import Team
from responders.web_auth import SignInForm, with_status
from sync.services import conflict_resolve, mutation_dismiss, quarantine_queryset

from . import labels, services
from .access import staff_required, supervisor_required
from .models import ShiftReview

__all__ = ["supervisor_required", "staff_required"]


class LoginView(auth_views.LoginView):
    """Signs in through the API's service (responders/web_auth.py): lockout, rate limit, second factor, audit."""

    template_name = "review/login.html"
    redirect_authenticated_user = True
    authentication_form = SignInForm

    def form_invalid(self, form):
        return with_status(self.request, super().form_invalid(form))


KNOWN_TYPES = {"shift", "engagement", "incident", "scene_response", "follow_up_case", "contact_attempt"}


def titles_for(user, refs):
    """{record id: title} for (type, id) pairs the reader may read; others stay unnamed."""
    by_type = defaultdict(set)
    for record_type, record_id in refs:
        if record_id:
            by_type[record_type].add(str(record_id))
    titles = {}
    for record_type, ids in by_type.items():
        if record_type not in KNOWN_TYPES:  # an unknown type in a rejected mutation names nothing
            continue
        spec = get_spec(record_type)
        for record in scoped_queryset(spec, user, include_deleted=True).filter(pk__in=ids):
            titles[str(record.pk)] = labels.record_title(record_type, record)
    return titles


def reference_refs(record_type, data):
    """(type, id) pairs of the records a record's values point to (its shift, incident, case, incidents)."""
    refs = []
    if record_type not in KNOWN_TYPES:
        return refs
    spec = get_spec(record_type)
    for name, target in spec.references.items():
        refs.append((target, data.get(name)))
    for name, target in spec.id_lists.items():
        refs.extend((target, i) for i in data.get(name) or [])
    return refs


@staff_required
def home(request):
    if not request.review_teams:
        # A coordinator's day starts at the program's worklist.
        return redirect("supervisor-follow-ups" if request.nav["dvp"] else "supervisor-activity")
    today = timezone.localdate()
    shifts_today = dict(
        Shift.objects.filter(team_id__in=request.review_teams, started_at__date=today, deleted_at__isnull=True)
        .values_list("team")
        .annotate(n=Count("id"))
    )
    teams = [
        (team, shifts_today.get(team.pk, 0))
        for team in Team.objects.filter(pk__in=request.review_teams)
        .select_related("program")
        .order_by("program", "code")
    ]
    shifts = (
        Shift.objects.filter(team_id__in=request.review_teams, deleted_at__isnull=True)
        .select_related("team", "program")
        .order_by("-started_at")[:20]
    )
    counts = {
        "queue": Shift.objects.filter(
            team_id__in=request.review_teams, review_status="submitted", deleted_at__isnull=True
        ).count(),
        "conflicts": Conflict.objects.filter(team_id__in=request.review_teams, status="open").count(),
        "quarantine": quarantine_queryset(request.user).count(),
        "amendments": Amendment.objects.filter(team_id__in=request.review_teams, status="pending").count(),
        "overdue": _overdue(request).count(),
    }
    return render(request, "review/home.html", {"teams": teams, "shifts": shifts, "counts": counts})


def shift_contact_attempts(shift, user):
    """Contact attempts logged on a shift: by its crew, in its team, between its start and its end.

    A contact attempt carries no shift of its own (the field app logs it from the case), so the shift log
    gathers it by who made it and when. The crew is the shift's creator and everyone in `crew`, and the window
    runs to the end time (to now while the shift is under way), whatever the day: an attempt made by the
    partner, or after midnight on a night shift, belongs to the shift as much as the creator's daytime ones.
    """
    crew = {shift.created_by_id, *[c for c in shift.crew if isinstance(c, int)]}
    window = Q(attempted_at__gte=shift.started_at)
    window &= Q(attempted_at__lte=shift.ended_at or timezone.now())
    return (
        scoped_queryset(get_spec("contact_attempt"), user)
        .filter(window, team_id=shift.team_id, created_by_id__in=crew)
        .select_related("case")
        .order_by("attempted_at", "id")
    )


def _card(request, record_type, record, people, titles, skip=()):
    wire = to_wire(get_spec(record_type), record, request.user)
    data = redact_fields(record_type, wire, request.user, record.program_id)
    return {
        "id": record.pk,
        "type": record_type,
        "title": labels.record_title(record_type, record),
        "rows": [
            *labels.rows(record_type, data, people, titles, skip=skip),
            (_("Logged by"), people.name(record.created_by_id)),
        ],
        "is_late": record.is_late,
        "version": record.version,
    }


def _timeline(shift):
    """The shift's status steps, labelled, in local time."""
    return [
        {
            "at": labels.when(step.get("at"), with_date=False),
            "status": labels.member_label("shift", "status_timeline", "status", step.get("status")),
        }
        for step in shift.status_timeline
        if isinstance(step, dict)
    ]


def _calls(shift):
    """The calls offered to the crew, each with its decision's label."""
    return [
        {**c, "decision_label": labels.member_label("shift", "calls_offered", "decision", c.get("decision"))}
        for c in shift.calls_offered
        if isinstance(c, dict)
    ]


@staff_required
def shift_detail(request, shift_id):
    shift = get_object_or_404(
        Shift.objects.select_related("team", "program", "created_by", "submitted_by", "reviewed_by"),
        pk=shift_id,
        team_id__in=request.staff_teams,
        deleted_at__isnull=True,
    )
    people = labels.People([shift.created_by_id, *shift.crew])
    is_dvp = shift.program.code == "DVP"
    # The records on this shift that the reader may read: a shift moved to another team keeps its old team's
    # records there, and those stay behind that team's wall (as the API answers 404 for them).
    engagements = list(
        scoped_queryset(get_spec("engagement"), request.user).filter(shift=shift).order_by("on_scene_at", "id")
    )
    responses = list(
        scoped_queryset(get_spec("scene_response"), request.user)
        .filter(shift=shift)
        .select_related("incident")
        .order_by("arrived_at", "id")
    )
    attempts = list(shift_contact_attempts(shift, request.user))
    for r in responses:
        people.add(r.responders)
    titles = {}
    titles.update({str(s.pk): s.call_sign for s in [shift]})
    # Scene responses grouped under their incident: one incident, its visits in time order.
    incidents = {}
    for r in responses:
        entry = incidents.setdefault(
            r.incident_id,
            {
                "incident": r.incident,
                "title": labels.record_title("incident", r.incident),
                "responses": [],
            },
        )
        entry["responses"].append(_card(request, "scene_response", r, people, titles, skip=("incident", "shift")))
    case_titles = {str(a.case_id): labels.record_title("follow_up_case", a.case) for a in attempts}
    context = {
        "shift": shift,
        "is_dvp": is_dvp,
        "crew": [people.name(i) for i in dict.fromkeys([*shift.crew, shift.created_by_id])],
        "timeline": _timeline(shift),
        "calls": _calls(shift),
        "engagements": [_card(request, "engagement", e, people, titles, skip=("shift",)) for e in engagements],
        "incidents": list(incidents.values()),
        "responses_count": len(responses),
        "attempts": [_card(request, "contact_attempt", a, people, case_titles) for a in attempts],
        "reviews": ShiftReview.objects.filter(shift=shift).select_related("actor"),
        "can_review": selectors.can_review_team(request.user, shift.team_id),
    }
    return render(request, "review/shift.html", context)


@supervisor_required
def shift_approve_confirm(request, shift_id):
    """Approve-and-lock asks first: what locking means, and the count of records it locks."""
    shift = get_object_or_404(
        Shift.objects.select_related("team", "program"),
        pk=shift_id,
        team_id__in=request.review_teams,
        deleted_at__isnull=True,
    )
    records = (
        scoped_queryset(get_spec("engagement"), request.user).filter(shift=shift).count()
        + scoped_queryset(get_spec("scene_response"), request.user).filter(shift=shift).count()
    )
    return render(request, "review/approve_confirm.html", {"shift": shift, "records": records})


@require_POST
@supervisor_required
def shift_decide(request, shift_id, decision):
    if decision not in ("approve", "return"):
        raise Http404
    comment = request.POST.get("comment", "")[:2000]
    if decision == "approve":
        if request.POST.get("confirm") != "yes":
            return redirect("supervisor-shift-approve", shift_id=shift_id)
        services.shift_approve(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        messages.success(request, _("Shift log approved and locked."))
    else:
        services.shift_return(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        messages.success(request, _("Shift log returned to the crew. They were notified."))
    return redirect("supervisor-shift", shift_id=shift_id)


def _records_of(user, refs):
    """{(type, id): record} the reader may read, one query per type."""
    by_type = defaultdict(set)
    for record_type, record_id in refs:
        by_type[record_type].add(record_id)
    found = {}
    for record_type, ids in by_type.items():
        spec = get_spec(record_type)
        for record in scoped_queryset(spec, user, include_deleted=True).filter(pk__in=ids):
            found[(record_type, record.pk)] = record
    return found


@supervisor_required
def conflicts(request):
    rows = list(
        Conflict.objects.filter(team_id__in=request.review_teams, status="open")
        .select_related("team", "incoming_author", "server_author")
        .order_by("created_at", "id")[:200]
    )
    records = _records_of(request.user, [(c.record_type, c.record_id) for c in rows])
    people = labels.People()
    for row in rows:  # field walls (records/redaction.py): a value the reader may not see is not on the page
        hidden = row.field in hidden_fields(row.record_type, request.user, row.program_id)
        record = records.get((row.record_type, row.record_id))
        row.title = labels.record_title(row.record_type, record) if record else labels.type_label(row.record_type)
        row.field_label = labels.field_label(row.record_type, row.field)
        for name in CONFLICT_VALUES:
            value = getattr(row, name)
            setattr(
                row,
                name + "_text",
                HIDDEN if hidden else (labels.value_text(row.record_type, row.field, value, people) or _("(empty)")),
            )
        row.server_author_name = labels.display_name(row.server_author)
        row.incoming_author_name = labels.display_name(row.incoming_author)
    return render(request, "review/conflicts.html", {"conflicts": rows})


@require_POST
@supervisor_required
def conflict_decide(request, conflict_id):
    resolution = request.POST.get("resolution", "")
    conflict_resolve(conflict_id=conflict_id, actor=request.user, resolution=resolution, request=request)
    messages.success(request, _("Conflict resolved."))
    return redirect("supervisor-conflicts")


@require_POST
@supervisor_required
def quarantine_dismiss(request, mutation_id):
    mutation_dismiss(mutation_id=mutation_id, actor=request.user, request=request)
    messages.success(request, _("Dismissed (kept on record)."))
    return redirect("supervisor-quarantine")


@supervisor_required
def amendments(request):
    rows = list(
        Amendment.objects.filter(team_id__in=request.review_teams, status="pending")
        .select_related("requested_by", "shift", "team")
        .order_by("created_at", "id")[:200]
    )
    records = _records_of(request.user, [(a.record_type, a.record_id) for a in rows])
    people = labels.People()
    for row in rows:
        changes = redact_fields(row.record_type, row.changes, request.user, row.program_id)
        record = records.get((row.record_type, row.record_id))
        current = (
            redact_fields(
                row.record_type, to_wire(get_spec(row.record_type), record, request.user), request.user, row.program_id
            )
            if record
            else {}
        )
        row.title = labels.record_title(row.record_type, record) if record else labels.type_label(row.record_type)
        row.requested_by_name = labels.display_name(row.requested_by)
        titles = titles_for(request.user, reference_refs(row.record_type, {**current, **(changes or {})}))
        row.diff = [
            {
                "label": labels.field_label(row.record_type, name),
                "before": labels.value_text(row.record_type, name, current.get(name), people, titles) or _("(empty)"),
                "after": labels.value_text(row.record_type, name, value, people, titles) or _("(empty)"),
            }
            for name, value in (changes or {}).items()
        ]
    return render(request, "review/amendments.html", {"amendments": rows})


@require_POST
@supervisor_required
def amendment_decide(request, amendment_id, decision):
    if decision not in ("accept", "decline"):
        raise Http404
    services.amendment_decide(
        actor=request.user,
        amendment_id=amendment_id,
        accept=decision == "accept",
        comment=request.POST.get("comment", "")[:2000],
        request=request,
    )
    messages.success(request, _("Amendment accepted.") if decision == "accept" else _("Amendment declined."))
    return redirect("supervisor-amendments")


ACTIVE_CASE = ["open", "in_mediation", "temporarily_resolved"]


def _overdue(request):
    return (
        FollowUpCase.objects.filter(
            team_id__in=request.staff_teams & selectors.readable_team_ids(request.user, program_codes={"DVP"}),
            deleted_at__isnull=True,
            status__in=ACTIVE_CASE,
            next_contact_due__lt=timezone.localdate(),
        )
        .select_related("team", "assigned_to")
        .order_by("next_contact_due", "id")
    )


