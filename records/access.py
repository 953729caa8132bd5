"""Who may read and write which records: scope selectors and the checks every write path runs.

Deny by default: a record outside the user's scope answers not_found, exactly as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q, QuerySet

from backend.errors import DomainError, Forbidden, NotFound
from responders import selectors
from responders.models import Membership, Program, Role, Team

from .registry import RecordSpec, get_spec

# Who may read a program's reports (aggregates only, never persons).
REPORT_ROLES = {Role.SUPERVISOR, Role.PROGRAM_ADMIN, Role.COORDINATOR, Role.ANALYST}


def scoped_queryset(spec: RecordSpec, user: Any, include_deleted: bool = False) -> QuerySet[Any]:
    """The records of this type the user may read now (deny by default)."""
    team_ids = selectors.readable_team_ids(user, program_codes=spec.programs)
    qs: QuerySet[Any] = spec.model._default_manager.filter(team_id__in=team_ids)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    return qs


def get_for_write(spec: RecordSpec, user: Any, record_id: Any, lock: bool = True) -> Any:
    """The record to change, locked, or not_found when it does not exist *or* is outside the writer's scope."""
    qs = scoped_queryset(spec, user, include_deleted=True)
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.select_related("program", "team").get(pk=record_id)
    except (ObjectDoesNotExist, ValueError, ValidationError):
        raise NotFound(f"No {spec.name} with that id.") from None


def access_locked(queryset: QuerySet[Any], pk: Any, *, missing: str) -> Any:
    """The row with this pk in `queryset` (already scoped to the user, and locked by the caller's
    select_for_update), or 404 with `missing`: out of scope and not existing answer alike."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise NotFound(missing)
    return obj


def in_readable_teams(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """The rows of `queryset` (team-owned: conflicts, amendments, shift logs) in the teams the user may read."""
    return queryset.filter(team_id__in=selectors.readable_team_ids(user))


def in_reviewed_teams(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """The rows of `queryset` (team-owned) in the teams the user reviews (supervisors and program admins)."""
    return queryset.filter(team_id__in=selectors.reviewable_team_ids(user))


def own_or_reviewed(queryset: QuerySet[Any], user: Any, author_field: str) -> QuerySet[Any]:
    """Rows of the teams the user reviews, plus the user's own rows (`author_field`) in teams they can still
    see: the conflict, amendment and quarantine lists."""
    return queryset.filter(
        Q(team_id__in=selectors.reviewable_team_ids(user))
        | Q(**{author_field: user}, team_id__in=selectors.readable_team_ids(user))
    )


def report_scope(user: Any, code: Any, team: Any = None) -> tuple[Program, set[int]]:
    """The program (by its code) and the teams `user` may report on: the whole program for a program-wide
    membership, else the member's team; `team` narrows it to one of those (the API and the report pages)."""
    program = Program.objects.filter(code=code).first() if code in Program.Code.values else None
    if program is None:
        raise DomainError("invalid_program", "program is MACRO or DVP.")
    membership = selectors.membership_for_program(user, program.pk)
    if membership is None or membership.role not in REPORT_ROLES:
        raise Forbidden("Reports are for supervisors, coordinators, program admins and analysts of this program.")
    teams = Team.objects.filter(program=program)
    if membership.team_id:
        teams = teams.filter(pk=membership.team_id)
    team_ids = set(teams.values_list("pk", flat=True))
    if team:
        if not str(team).isdigit() or int(team) not in team_ids:
            raise NotFound("No such team in your scope.")
        team_ids = {int(team)}
    return program, team_ids


def report_programs(user: Any) -> list[str]:
    """The codes of the programs `user` may report on, in the order of their memberships."""
    return [m.program.code for m in selectors.memberships_for(user) if m.role in REPORT_ROLES]


def require_program_role(user: Any, program: Program, roles: Iterable[str], message: str) -> None:
    """403 unless the user holds one of `roles` in the program (a CAD import: supervisors and program admins)."""
    if selectors.role_in_program(user, program.pk) not in roles:
        raise Forbidden(message)


def require_reviewer(user: Any, team_id: int | None, message: str) -> None:
    """403 unless the user is a supervisor (or program admin) of this team: the one rule for deciding conflicts,
    amendments, quarantined mutations and shift logs."""
    if not (team_id and selectors.can_review_team(user, team_id)):
        raise Forbidden(message)


def check_restricted(spec: RecordSpec, user: Any, program_id: int, names: Iterable[str]) -> None:
    role = selectors.role_in_program(user, program_id)
    denied = [n for n in names if n in spec.restricted and role not in spec.restricted[n]]
    if denied:
        raise Forbidden(
            "Your role may not set these fields.",
            code="field_restricted",
            fields={n: [{"code": "field_restricted", "message": "Not permitted for your role."}] for n in denied},
        )


def _missing(value: Any) -> ValidationError:
    return ValidationError(f'Invalid pk "{value}" - object does not exist.', code="does_not_exist")


def check_references(spec: RecordSpec, user: Any, values: Mapping[str, Any], team_id: int, program_id: int) -> None:
    """Every record or person a write names must be one the writer may see; otherwise the same answer as an id
    that does not exist (does_not_exist), so a reference never tells whether a record outside scope exists.
    Lists of record ids also stay within the record's team (wrong_team), as foreign keys do (Model.clean)."""
    errors = {}
    for name, target in spec.references.items():
        obj = values.get(name)
        if obj is None:
            continue
        target_spec = get_spec(target)
        if not scoped_queryset(target_spec, user).filter(pk=obj.pk).exists():
            errors[name] = [_missing(obj.pk)]
    for name, target in spec.id_lists.items():
        ids = values.get(name) or []
        if not ids:
            continue
        found = dict(scoped_queryset(get_spec(target), user).filter(pk__in=ids).values_list("pk", "team_id"))
        found = {str(pk).lower(): team for pk, team in found.items()}
        missing = [i for i in ids if str(i).lower() not in found]
        if missing:
            errors[name] = [_missing(missing[0])]
        elif any(found[str(i).lower()] != team_id for i in ids):
            errors[name] = [ValidationError(f"A {target} of another team.", code="wrong_team")]
    for name in spec.people:
        value: Any = values.get(name)
        ids = [value.pk] if hasattr(value, "pk") else list(value or [])
        if not ids:
            continue
        members = set(
            Membership.objects.filter(
                user_id__in=ids, program_id=program_id, is_active=True, user__is_active=True
            ).values_list("user_id", flat=True)
        )
        missing = [i for i in ids if i not in members]
        if missing:
            errors[name] = [_missing(missing[0])]
    if errors:
        raise ValidationError(errors)


def resolve_team(spec: RecordSpec, user: Any, team_id: int | None) -> Team:
    writable = selectors.readable_team_ids(user, program_codes=spec.programs)
    if team_id is None:
        if len(writable) == 1:
            team_id = next(iter(writable))
        else:
            raise ValidationError(
                {"team": [ValidationError("Say which team this record belongs to.", code="required")]}
            )
    if team_id not in writable:
        raise ValidationError({"team": [ValidationError("Not a team you can write to.", code="team_not_writable")]})
    cache: dict[int, Team] = user.__dict__.setdefault("_team_cache", {})
    if team_id not in cache:
        cache[team_id] = Team.objects.select_related("program").get(pk=team_id)
    return cache[team_id]
