"""Public statistics that cannot be differenced: closed calendar months only, each frozen when published.

The attack: read, add one record, read again (11 -> 12); or ask for two overlapping ranges and subtract.
The test reads every table the public can ask for on many days while records are added, deleted and
back-dated, and differences every pair of the tables it got.
"""

import itertools
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Engagement
from records.registry import get_spec
from records.writes import WriteContext, record_create
from tests.incidents.test_records_api import make
from tests.support import back_date

TODAY = timezone.localdate()


def _month(offset):
    """First day of the month `offset` months from this one (negative: past)."""
    month = TODAY.replace(day=1)
    for _ in range(abs(offset)):
        month = (
            (month - timedelta(days=1)).replace(day=1) if offset < 0 else (month + timedelta(days=32)).replace(day=1)
        )
    return month


def _engagements(field, month, origin, n):
    at = timezone.make_aware(datetime.combine(month + timedelta(days=3), time(12)))
    ids = []
    for _ in range(n):
        data = {"origin": origin}
        if origin == "911_dispatch":
            data["cad_number"] = "C"
        ids.append(
            record_create(
                spec=get_spec("engagement"),
                ctx=WriteContext(actor=field.program_supervisor, audit=False),
                data=data,
                team_id=field.team_a.pk,
            ).instance.pk
        )
    back_date(Engagement, ids, at)
    return ids


def _read(monkeypatch, day, **params):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: day)
    response = APIClient().get("/api/v1/public/stats", params)
    assert response.status_code == 200, response.content
    return response.json()


def _check_month_alone(row):
    cells, total = row["cells"], row["total"]
    assert all(v is None or v == 0 or v > 10 for v in cells.values()), row
    assert total is None or total == 0 or total > 10, row
    if total is not None:
        hidden = [c for c, v in cells.items() if v is None]
        assert len(hidden) != 1, row  # one hidden cell beside its month's total is derivable


def test_every_pair_of_published_tables_differences_to_nothing_finer_than_a_published_month(field, monkeypatch):
    for offset, counts in {-4: (12, 20, 3), -3: (11, 0, 9), -2: (30, 1, 14), -1: (15, 15, 2), 0: (11, 0, 0)}.items():
        for origin, n in zip(("on_view", "community_referral", "911_dispatch"), counts, strict=True):
            _engagements(field, _month(offset), origin, n)
    tables = []  # (reading day, what was asked, body)
    years = sorted({_month(o).year for o in range(-14, 3)})
    for step in range(8):
        day = TODAY + timedelta(days=9 * step)
        tables.append((day, "default", _read(monkeypatch, day)))
        for year in years:
            tables.append((day, f"year={year}", _read(monkeypatch, day, year=year)))
        # Between readings the data moves: one more record now, one deleted and one back-dated into a
        # month that may already be published.
        make(field, "engagement", field.team_a, field.responder)
        victim = Engagement.objects.filter(server_received_at__lt=_month(-1)).order_by("id").first()
        Engagement.objects.filter(pk=victim.pk).update(deleted_at=timezone.now())
        _engagements(field, _month(-2 + step % 3), "on_view", 1)

    published = 0
    for day, asked, body in tables:
        newest = body["latest_published"]
        for row in body["months"]:
            assert row["month"] <= newest < day.isoformat()[:7], (day, asked, row)  # closed months only
            _check_month_alone(row)
            published += 1
    assert published > 20
    pairs = 0
    for (day_a, asked_a, a), (day_b, asked_b, b) in itertools.combinations(tables, 2):
        rows_a = {r["month"]: r for r in a["months"]}
        rows_b = {r["month"]: r for r in b["months"]}
        for month in rows_a.keys() & rows_b.keys():
            # The same month in two tables is the same figures: their difference is nothing.
            assert rows_a[month] == rows_b[month], (day_a, asked_a, day_b, asked_b, month)
            pairs += 1
        # Nothing is summed across months, so months present in one table only are whole published months.
        assert set(a) == set(b) == {"months", "latest_published", "publication_delay_days", "suppressed_below"}
    assert pairs > 100


def test_one_more_record_changes_nothing_published(field):
    _engagements(field, _month(-2), "on_view", 11)
    before = APIClient().get("/api/v1/public/stats").json()
    make(field, "scene_response", field.team_d, field.interrupter)
    make(field, "engagement", field.team_a, field.responder)
    _engagements(field, _month(-2), "on_view", 1)  # even back-dated into a published month
    after = APIClient().get("/api/v1/public/stats").json()
    assert before == after
    assert TODAY.isoformat()[:7] not in [m["month"] for m in after["months"]]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-11-01", "end": "2026-11-02"},
        {"start": "2026-01-01"},
        {"end": "2026-12-01"},
        {"year": "26"},
        {"year": "2026-11"},
    ],
)
def test_arbitrary_ranges_are_refused(db, params):
    response = APIClient().get("/api/v1/public/stats", params)
    assert response.status_code == 400 and response.json()["code"] in ("invalid_period", "invalid_date")
    assert APIClient().get("/public/stats", params).status_code == 400
