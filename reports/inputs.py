"""What the report endpoints read from a request, and the refusals docs/reports.md promises for it.

The program and team are read by the scope check (records/access.py::report_scope), which needs the asker:
a code that names no program is `invalid_program`, a team outside the asker's scope `not_found`.
"""

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from backend.dates import MAX_YEAR, MIN_YEAR, parse_day, parse_moment
from backend.errors import DomainError
from backend.inputs import InputSerializer, Parsed
from responders.models import Program

MAX_PERIOD_DAYS = 3700


def _default_start() -> date:
    """The first of last month."""
    return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)


def _default_end() -> date:
    """The first of this month (the period's end is the day after its last)."""
    return timezone.localdate().replace(day=1)


def _start(value: Any, name: str) -> date:
    return parse_day(value, name, _default_start())


def _end(value: Any, name: str) -> date:
    return parse_day(value, name, _default_end())


def _figures(value: Any, name: str) -> str:
    return "current" if value == "current" else "as_closed"


def _as_of(value: Any, name: str) -> Any:
    return parse_moment(value, name)


def _export(value: Any, name: str) -> str | None:
    return "csv" if value == "csv" else None


class ReportPeriod(InputSerializer):
    """start and end (YYYY-MM-DD; end is the day after the last): by default last month."""

    start = Parsed(_start)
    end = Parsed(_end)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["start"], attrs["end"]
        if start >= end or (end - start).days > MAX_PERIOD_DAYS:
            raise DomainError("invalid_period", "start and end are dates (YYYY-MM-DD), start before end.")
        return attrs


class ReportQuery(ReportPeriod):
    """A report's period, and which figures of a closed period: as closed (the default) or `current`."""

    figures = Parsed(_figures)


class EngagementReportQuery(ReportQuery):
    """The engagement report also reproduces the counts `as_of` a moment, and exports as CSV (`export=csv`)."""

    as_of = Parsed(_as_of)
    export = Parsed(_export)


def _not_published(value: Any, name: str) -> None:
    if value:
        parse_day(value, name)  # an impossible date is still named as such
        raise DomainError(
            "invalid_period",
            "Public statistics are published by calendar month only; ask for a year (year=2026) or none.",
            fields={name: [{"code": "not_published", "message": "Ranges are not published."}]},
        )


def _year(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    if not (isinstance(value, str) and value.isdigit() and len(value) == 4 and MIN_YEAR <= int(value) <= MAX_YEAR):
        raise DomainError(
            "invalid_date",
            "year is a four-digit year.",
            fields={"year": [{"code": "invalid_date", "message": "A year such as 2026."}]},
        )
    return int(value)


class PublicStatsQuery(InputSerializer):
    """Public statistics: a calendar year's published months, or (no year) the twelve newest. A range
    (start, end) is refused: counts are published by calendar month only."""

    start = Parsed(_not_published)
    end = Parsed(_not_published)
    year = Parsed(_year)


def _program(value: Any, name: str) -> Program:
    program = Program.objects.filter(code=value).first() if isinstance(value, str) else None
    if program is None:
        raise DomainError("invalid_program", "program is MACRO or DVP.")
    return program


def _csv(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise DomainError("invalid_csv", "csv is the file's text.")
    return value


class CadImportInput(InputSerializer):
    """POST /reports/cad-calls {"program": "MACRO", "csv": "<the file's text>"}. The rows themselves are read
    by reports/cad.py::cad_import (every bad row reported by its line)."""

    program = Parsed(_program)
    csv = Parsed(_csv)
