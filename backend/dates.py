"""The one parser of dates and date-times: what a client sends in a query, a form or a file (reports, public
statistics, list filters, pages, CSV, CAD imports, device times), and the ISO text the server itself stored
(snapshots, a closed period's figures).

Django's parse_date returns None for text that is not a date but raises ValueError for one that looks like a
date and is not (2026-02-30, 2026-13-01, 0000-01-01); years far from ours overflow when converted between
time zones. Everything here answers 400 `invalid_date` (DomainError) instead, naming the parameter.
"""

from datetime import date, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .errors import DomainError

# Field records and reports live in these years; anything outside is a typo or a probe.
MIN_YEAR, MAX_YEAR = 1900, 2999


def invalid_date(name: str, message: str | None = None) -> DomainError:
    message = message or f"{name} is a date (YYYY-MM-DD) between {MIN_YEAR} and {MAX_YEAR}."
    return DomainError(
        "invalid_date", message, fields={name: [{"code": "invalid_date", "message": message}]}
    )


def try_parse_day(value: Any) -> date | None:
    """A date, or None for anything that is not a real calendar day in range."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    try:
        day = parse_date(value.strip())
    except ValueError:
        return None
    if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
        return None
    return day


def try_parse_datetime(value: Any) -> datetime | None:
    """A date-time (as parse_datetime gives it, naive or aware), or None when it is not a real one in range.
    For values kept as sent, such as a device's clock."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    return moment


def try_parse_moment(value: Any) -> datetime | None:
    """An aware date-time (a bare date means its midnight here), or None when not a real moment in range."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        day = try_parse_day(text)
        if day is None:
            return None
        moment = datetime.combine(day, time.min)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        moment.astimezone(timezone.get_default_timezone())
    except (ValueError, OverflowError):
        return None
    return moment


def stored_moment(text: str) -> datetime:
    """A date-time the server itself wrote as ISO 8601 (a version snapshot, a closed report's adjustments)."""
    return datetime.fromisoformat(text)


def stored_day(text: str) -> date:
    """A day the server itself wrote as ISO 8601 (YYYY-MM-DD)."""
    return date.fromisoformat(text)


def parse_day(value: Any, name: str, default: date | None = None) -> date | None:
    """A query parameter that is a day: the default when absent or empty, else a real date or 400."""
    if value is None or value == "":
        return default
    day = try_parse_day(value)
    if day is None:
        raise invalid_date(name)
    return day


def parse_moment(value: Any, name: str, default: datetime | None = None) -> datetime | None:
    """A query parameter that is a date or a date-time: the default when absent, else an aware moment or 400."""
    if value is None or value == "":
        return default
    moment = try_parse_moment(value)
    if moment is None:
        raise invalid_date(name, f"{name} is a date or an ISO 8601 date-time between {MIN_YEAR} and {MAX_YEAR}.")
    return moment
