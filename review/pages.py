"""Server-rendered supervisor pages: the same selectors and services as the API, with session login."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backend.errors import DomainError
from incidents.models import FollowUpCase
from responders import selectors
from responders.models import Shift, Team
from responders.web_auth import SignInForm, second_factor_satisfied, with_status
from sync.models import Amendment, Conflict
from sync.records import scoped_queryset
from sync.redaction import CONFLICT_VALUES, HIDDEN, hidden_fields, redact_fields
from sync.registry import get_spec
from sync.services import conflict_resolve, mutation_dismiss, mutation_replay, quarantine_queryset

from . import services


class LoginView(auth_views.LoginView):
    """Signs in through the API's service (responders/web_auth.py): lockout, rate limit, second factor, audit."""

    template_name = "review/login.html"
    redirect_authenticated_user = True
    authentication_form = SignInForm

    def form_invalid(self, form):
        return with_status(self.request, super().form_invalid(form))


def supervisor_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not second_factor_satisfied(request):
            logout(request)
            return redirect_to_login(request.get_full_path())
        teams = selectors.reviewable_team_ids(request.user)
        if not teams:
            # A crew member who came here is pointed to the field app, in a page rather than an API error.
            return render(request, "review/not_supervisor.html", status=403)
        request.review_teams = teams
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            # Outside the reader's scope (or role): the same answers as for a missing object, not a redirect.
            if exc.status_code == 404:
                raise Http404(exc.message) from None
            if exc.status_code == 403:
                raise PermissionDenied(exc.message) from None
            if request.method == "GET":  # a bad query (an impossible date): say so, with the error's status
                return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
            messages.error(request, exc.message)
            return redirect(request.META.get("HTTP_REFERER") or "supervisor-home")

    return wrapped


@supervisor_required
def home(request):
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
        .select_related("team")
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


@supervisor_required
def shift_detail(request, shift_id):
    shift = get_object_or_404(
        Shift.objects.select_related("team", "program"),
        pk=shift_id,
        team_id__in=request.review_teams,
        deleted_at__isnull=True,
    )
    # The records on this shift that the reader may read: a shift moved to another team keeps its old team's
    # records there, and those stay behind that team's wall (as the API answers 404 for them).
    engagements = (
        scoped_queryset(get_spec("engagement"), request.user).filter(shift=shift).order_by("on_scene_at", "id")
    )
    responses = scoped_queryset(get_spec("scene_response"), request.user).filter(shift=shift).select_related("incident")
    return render(request, "review/shift.html", {"shift": shift, "engagements": engagements, "responses": responses})


@require_POST
@supervisor_required
def shift_decide(request, shift_id, decision):
    if decision not in ("approve", "return"):
        raise Http404
    comment = request.POST.get("comment", "")[:2000]
    if decision == "approve":
        services.shift_approve(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        messages.success(request, "Shift log approved and locked.")
    else:
        services.shift_return(actor=request.user, shift_id=shift_id, comment=comment, request=request)
        messages.success(request, "Shift log returned to the crew.")
    return redirect("supervisor-shift", shift_id=shift_id)


@supervisor_required
def conflicts(request):
    rows = list(
        Conflict.objects.filter(team_id__in=request.review_teams, status="open")
        .select_related("team", "incoming_author", "server_author")
        .order_by("created_at", "id")[:200]
    )
    for row in rows:  # field walls (sync/redaction.py): a value the reader may not see is not on the page
        if row.field in hidden_fields(row.record_type, request.user, row.program_id):
            for name in CONFLICT_VALUES:
                setattr(row, name, HIDDEN)
    return render(request, "review/conflicts.html", {"conflicts": rows})


@require_POST
@supervisor_required
def conflict_decide(request, conflict_id):
    resolution = request.POST.get("resolution", "")
    conflict_resolve(conflict_id=conflict_id, actor=request.user, resolution=resolution, request=request)
    messages.success(request, "Conflict resolved.")
    return redirect("supervisor-conflicts")


@supervisor_required
def quarantine(request):
    rows = quarantine_queryset(request.user).select_related("user", "team")[:200]
    return render(request, "review/quarantine.html", {"mutations": rows})


@require_POST
@supervisor_required
def quarantine_decide(request, mutation_id, decision):
    if decision not in ("replay", "dismiss"):
        raise Http404
    if decision == "replay":
        result = mutation_replay(mutation_id=mutation_id, actor=request.user, request=request)
        messages.info(request, f"Replayed: {result['status']}" + (f" ({result['code']})" if "code" in result else ""))
    else:
        mutation_dismiss(mutation_id=mutation_id, actor=request.user, request=request)
        messages.success(request, "Dismissed (kept on record).")
    return redirect("supervisor-quarantine")


@supervisor_required
def amendments(request):
    rows = list(
        Amendment.objects.filter(team_id__in=request.review_teams, status="pending")
        .select_related("requested_by", "shift", "team")
        .order_by("created_at", "id")[:200]
    )
    for row in rows:
        row.changes = redact_fields(row.record_type, row.changes, request.user, row.program_id)
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
    messages.success(request, f"Amendment {'accepted' if decision == 'accept' else 'declined'}.")
    return redirect("supervisor-amendments")


def _overdue(request):
    return (
        FollowUpCase.objects.filter(
            team_id__in=selectors.readable_team_ids(request.user, program_codes={"DVP"}),
            deleted_at__isnull=True,
            status__in=["open", "in_mediation", "temporarily_resolved"],
            next_contact_due__lt=timezone.localdate(),
        )
        .select_related("team", "assigned_to")
        .order_by("next_contact_due", "id")
    )


@supervisor_required
def overdue(request):
    return render(request, "review/overdue.html", {"cases": _overdue(request)[:200]})
