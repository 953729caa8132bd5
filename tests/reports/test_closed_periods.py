"""Closed periods stay put: figures of a closed period are shown as of its close, and what came later is a
separate, dated adjustment (docs/reports.md, "Closed periods")."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from incidents.models import Engagement, Incident, SceneResponse
from records.access import get_for_write
from records.registry import get_spec
from records.writes import WriteContext, record_create, record_update
from tests.support import back_date

TODAY = timezone.localdate()
# The month before last: closed whatever today's date (REPORT_CLOSE_GRACE_DAYS is below a month).
MONTH = ((TODAY.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1)
NEXT = (MONTH + timedelta(days=32)).replace(day=1)
IN_MONTH = timezone.make_aware(datetime.combine(MONTH + timedelta(days=9), time(21)))
DVP_PERIOD = {"program": "DVP", "start": MONTH.isoformat(), "end": NEXT.isoformat()}


def create(field, actor, team, type_, **data):
    return record_create(spec=get_spec(type_), ctx=WriteContext(actor=actor, audit=False), data=data, team_id=team.pk)


def shooting_with_two_responses(field):
    """A shooting in the closed month with two scene responses, all received that month."""
    incident = create(
        field,
        field.interrupter,
        field.team_d,
        "incident",
        dvp_number="D-77",
        kind="shooting",
        occurred_at=IN_MONTH.isoformat(),
        notified_at=(IN_MONTH + timedelta(minutes=5)).isoformat(),
    ).instance
    responses = [
        create(
            field,
            field.interrupter,
            field.team_d,
            "scene_response",
            incident=str(incident.pk),
            arrived_at=(IN_MONTH + timedelta(minutes=m)).isoformat(),
        ).instance.pk
        for m in (25, 40)
    ]
    back_date(Incident, [incident.pk], IN_MONTH + timedelta(hours=1))
    back_date(SceneResponse, responses, IN_MONTH + timedelta(hours=2))
    return incident


def test_a_late_scene_response_does_not_move_a_closed_month(field):
    """The issue: November's "scene responses per incident" went from 2.0 to 3.0 after a scene response was
    logged in December for a November incident. It now stays 2.0, with the late one as a dated adjustment."""
    incident = shooting_with_two_responses(field)
    api = field.api(field.dvp_supervisor)
    before = api.get("/api/v1/reports/dvp", DVP_PERIOD).json()
    assert before["scene_responses_per_incident"] == 2.0

    create(field, field.interrupter, field.team_d, "scene_response", incident=str(incident.pk))  # logged today

    after = api.get("/api/v1/reports/dvp", DVP_PERIOD).json()
    assert after["scene_responses_per_incident"] == 2.0  # was 3.0 before closed periods
    assert after["scene_responses"] == 2 and before["closed"]["adjustments"] == []
    assert after["closed"]["adjustments"] == [
        {
            "record_type": "scene_response",
            "kind": "recorded",
            "count": 1,
            "first": TODAY.isoformat(),
            "last": TODAY.isoformat(),
        }
    ]
    assert after["closed"]["current"]["scene_responses_per_incident"] == 3.0
    assert after["closed"]["closed_at"].startswith((NEXT + timedelta(days=7)).isoformat())
    # Asked for as the records are now, the late response counts.
    current = api.get("/api/v1/reports/dvp", {**DVP_PERIOD, "figures": "current"}).json()
    assert current["scene_responses_per_incident"] == 3.0 and current["closed"] is None


def test_an_open_period_shows_the_records_as_they_are(field):
    incident = shooting_with_two_responses(field)
    create(field, field.interrupter, field.team_d, "scene_response", incident=str(incident.pk))
    period = {"program": "DVP", "start": MONTH.isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()}
    body = field.api(field.dvp_supervisor).get("/api/v1/reports/dvp", period).json()
    assert body["scene_responses_per_incident"] == 3.0 and body["closed"] is None


def test_an_engagement_corrected_after_close_keeps_the_closed_figure(field):
    made = [create(field, field.responder, field.team_a, "engagement", origin="on_view").instance for _ in range(3)]
    back_date(Engagement, [e.pk for e in made], IN_MONTH)
    spec = get_spec("engagement")
    ctx = WriteContext(actor=field.supervisor, audit=False)
    record_update(
        spec=spec, ctx=ctx, instance=get_for_write(spec, field.supervisor, made[0].pk), data={"origin": "follow_up"}
    )
    period = {"program": "MACRO", "start": MONTH.isoformat(), "end": NEXT.isoformat()}
    body = field.api(field.macro_analyst).get("/api/v1/reports/engagements", period).json()
    assert body["by_origin"]["on_view"] == 3 and body["by_origin"]["follow_up"] == 0
    assert body["closed"]["current"]["by_origin"]["on_view"] == 2
    assert [(a["record_type"], a["kind"], a["count"]) for a in body["closed"]["adjustments"]] == [
        ("engagement", "changed", 1)
    ]
