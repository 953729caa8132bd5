"""Public statistics: closed calendar months only, each frozen when published (docs/reports.md).

Why not arbitrary ranges: two overlapping ranges, or a reading before and after one more record, differ by a
handful of records, which undoes small-cell suppression. So the grid is fixed (calendar months), the current
month is never published, a month is published only PUBLIC_STATS_DELAY_DAYS after it closes (late uploads
and corrections land first), and its suppressed figures are stored then and never recomputed. Each month is
its own table (cells by program and origin, and its total), suppressed on its own; nothing is summed across
months, so no difference of published figures is finer than a published month.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import PublishedMonth
from .selectors import closed_at, public_table
from .suppression import suppress


def _next_month(day):
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def latest_publishable(today=None):
    """The first day of the newest month that may be published today (closed, and the delay passed)."""
    today = today or timezone.localdate()
    month = today.replace(day=1)
    while True:
        month = (month - timedelta(days=1)).replace(day=1)
        if _next_month(month) + timedelta(days=settings.PUBLIC_STATS_DELAY_DAYS) <= today:
            return month


def _publish(month):
    """The month's row, computed and stored the first time it is asked for."""
    existing = PublishedMonth.objects.filter(month=month).first()
    if existing is not None:
        return existing
    # As the month stood at its close (docs/reports.md, "Closed periods"): the same figures the reports show.
    as_of = min(closed_at(_next_month(month)), timezone.now())
    counts = public_table(start=month, end=_next_month(month), as_of=as_of).get(month.isoformat()[:7], {})
    table = suppress({month.isoformat()[:7]: counts}) if counts else None
    cells = table["cells"][month.isoformat()[:7]] if table else {}
    total = table["row_totals"][month.isoformat()[:7]] if table else 0
    try:
        with transaction.atomic():
            return PublishedMonth.objects.create(month=month, cells=cells, total=total)
    except IntegrityError:  # published by a concurrent reader a moment ago: theirs stands
        return PublishedMonth.objects.get(month=month)


def published_months(*, year=None, today=None, count=12):
    """The published months of a year, or the `count` newest, oldest first: [{month, cells, total}]."""
    newest = latest_publishable(today)
    if year is not None:
        months = [date(year, m, 1) for m in range(1, 13) if date(year, m, 1) <= newest]
    else:
        months, month = [], newest
        for _ in range(count):
            months.append(month)
            month = (month - timedelta(days=1)).replace(day=1)
        months.reverse()
    rows = [_publish(m) for m in months]
    return newest, [{"month": r.month.isoformat()[:7], "cells": r.cells, "total": r.total} for r in rows]
