"""Who may open which page: the same selectors as the API (responders/selectors.py), with session login.

Two doors: the review pages (supervisors and program admins of a team) and the staff pages that read records
(coordinators too). Analysts and field responders read no records (docs/security.md), so neither door opens
for them. An object outside the reader's teams is a 404, as in the API: its page says nothing about it.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from backend.errors import DomainError, Forbidden, NotFound, http_status
from responders import selectors
from responders.models import Role
from responders.web_auth import second_factor_satisfied

# Roles that read records on these pages (field responders use the field app; analysts see aggregates only).
STAFF_ROLES = {Role.COORDINATOR, Role.SUPERVISOR, Role.PROGRAM_ADMIN}


def staff_team_ids(user, program_codes=None):
    return selectors.team_ids_for(user, STAFF_ROLES, program_codes)


def _nav(user, review_teams, staff_teams):
    programs = {m.program.code for m in selectors.memberships_for(user) if m.role in STAFF_ROLES}
    return {
        "review": bool(review_teams),
        "dvp": "DVP" in programs and bool(staff_teams),
        "macro": "MACRO" in programs and bool(staff_teams),
    }


def _guard(view, need_review):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not second_factor_satisfied(request):
            logout(request)
            return redirect_to_login(request.get_full_path())
        review = selectors.reviewable_team_ids(request.user)
        staff = staff_team_ids(request.user)
        request.review_teams, request.staff_teams = review, staff
        request.nav = _nav(request.user, review, staff)
        if not (review if need_review else staff):
            # A crew member or an analyst: a page that says where to go, not an API error.
            return render(request, "review/not_supervisor.html", status=403)
        try:
            # The language (?lang=, the cookie, the browser's) is chosen by backend/middleware.py for all pages.
            return view(request, *args, **kwargs)
        except DomainError as exc:
            # Outside the reader's scope (or role): the same answers as for a missing object, not a redirect.
            if isinstance(exc, NotFound):
                raise Http404(exc.message) from None
            if isinstance(exc, Forbidden):
                raise PermissionDenied(exc.message) from None
            if request.method == "GET":  # a bad query (an impossible date): say so, with the error's status
                return HttpResponse(exc.message, status=http_status(exc), content_type="text/plain")
            messages.error(request, exc.message)
            return redirect(request.META.get("HTTP_REFERER") or "supervisor-home")

    return wrapped


def supervisor_required(view):
    """Supervisors and program admins of at least one team."""
    return _guard(view, need_review=True)


def staff_required(view):
    """Coordinators, supervisors and program admins: whoever reads records on these pages."""
    return _guard(view, need_review=False)
