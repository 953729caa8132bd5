"""Who may see what. Every read that depends on who asks goes through here.

A user's scope is the set of teams whose records they may read: a team
membership covers that team; a membership without a team covers the whole
program. Analysts see no records at all (aggregates only).
"""

from django.db.models import Q

from .models import Device, Membership, Role, Team

RECORD_ROLES = {Role.FIELD_RESPONDER, Role.COORDINATOR, Role.SUPERVISOR, Role.PROGRAM_ADMIN}
REVIEW_ROLES = {Role.SUPERVISOR, Role.PROGRAM_ADMIN}
POLICE_CASE_ROLES = {Role.COORDINATOR}
SECOND_FACTOR_ROLES = {Role.SUPERVISOR, Role.PROGRAM_ADMIN}


def memberships_for(user):
    """Active memberships of an active user, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_memberships_cache", None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user, is_active=True).select_related("program", "team", "team__program")
        )
        user._memberships_cache = cached
    return cached


def membership_for_program(user, program_id):
    return next((m for m in memberships_for(user) if m.program_id == program_id), None)


def role_in_program(user, program_id):
    m = membership_for_program(user, program_id)
    return m.role if m else None


def team_ids_for(user, roles=RECORD_ROLES, program_codes=None):
    """Ids of the teams whose records this user may read, for the given roles."""
    team_ids = set()
    program_wide = []
    for m in memberships_for(user):
        if m.role not in roles or (program_codes and m.program.code not in program_codes):
            continue
        if m.team_id is None:
            program_wide.append(m.program_id)
        elif m.team.is_active:
            team_ids.add(m.team_id)
    if program_wide:
        team_ids.update(Team.objects.filter(program_id__in=program_wide, is_active=True).values_list("id", flat=True))
    return team_ids


def readable_team_ids(user, program_codes=None):
    return team_ids_for(user, RECORD_ROLES, program_codes)


def reviewable_team_ids(user):
    return team_ids_for(user, REVIEW_ROLES)


def readable_teams(user):
    """The teams whose records the user may read, with their programs."""
    return Team.objects.filter(id__in=readable_team_ids(user)).select_related("program")


def case_assignees(*, program_id, team_id):
    """Who a follow-up case of this team can go to: the active field responders and coordinators of the team, or
    of the whole program, by username."""
    return [
        m.user
        for m in Membership.objects.filter(
            Q(team_id=team_id) | Q(team__isnull=True),
            program_id=program_id,
            role__in=[Role.FIELD_RESPONDER, Role.COORDINATOR],
            is_active=True,
            user__is_active=True,
        )
        .select_related("user")
        .order_by("user__username")
    ]


def manageable_devices(user):
    """The user's own devices, and those of people in the teams the user reviews (supervisors, program admins)."""
    team_ids = reviewable_team_ids(user)
    return (
        Device.objects.filter(
            Q(user=user) | Q(user__memberships__team_id__in=team_ids, user__memberships__is_active=True)
        )
        .distinct()
        .order_by("-created_at", "id")
    )


def can_review_team(user, team_id):
    return team_id in reviewable_team_ids(user)


def can_see_police_case_number(user, program_id):
    return role_in_program(user, program_id) in POLICE_CASE_ROLES


def teammates(user):
    """Active people with an active membership on one of the user's own teams (who may share a shift)."""
    own = {m.team_id for m in memberships_for(user) if m.team_id}
    rows = (
        Membership.objects.filter(team_id__in=own, is_active=True, user__is_active=True)
        .exclude(user=user)
        .select_related("user")
        .order_by("user__username")
    )
    return [
        {
            "id": m.user_id,
            "username": m.user.username,
            "first_name": m.user.first_name,
            "last_name": m.user.last_name,
            "team": m.team_id,
        }
        for m in rows
    ]


def scope_fingerprint(user):
    """A stable description of what the user may see now: teams and the role in each program.

    The sync cursor carries it; when it changes, the device is resynced
    (removals for lost teams, a backfill for new ones, everything again
    when a role change alters which fields are visible).
    """
    # Lists, not tuples: it travels inside a JSON cursor and must compare equal when it comes back.
    return sorted([m.program_id, m.role] for m in memberships_for(user) if m.role in RECORD_ROLES)
