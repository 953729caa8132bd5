"""Walls on moved records: a record moved to another team leaves behind what the new team may not read."""

from django.test import Client

from responders.models import Role
from tests.incidents.test_records_api import make


def test_a_shift_moved_to_another_team_shows_no_engagements_of_the_old_team(field):
    team_b_supervisor = field.user("supervisor_b", field.macro, field.team_b, Role.SUPERVISOR)
    shift = make(field, "shift", field.team_a, field.responder)
    from records.registry import get_spec
    from records.writes import WriteContext, record_create, record_move

    engagement = record_create(
        spec=get_spec("engagement"),
        ctx=WriteContext(actor=field.responder, audit=False),
        data={
            "shift": str(shift.pk),
            "origin": "911_dispatch",
            "cad_number": "CAD-SECRET-4471",
            "needs": ["housing"],
            "disposition": "transported",
        },
        team_id=field.team_a.pk,
    ).instance
    record_move(
        spec=get_spec("shift"),
        ctx=WriteContext(actor=field.program_supervisor, audit=False),
        instance=shift,
        team_id=field.team_b.pk,
    )
    # The API already walls it off for the new team's supervisor.
    api = field.api(team_b_supervisor)
    assert api.get(f"/api/v1/engagements/{engagement.pk}").status_code == 404
    assert api.get(f"/api/v1/shifts/{shift.pk}").status_code == 200
    client = Client()
    client.force_login(team_b_supervisor)
    page = client.get(f"/supervisor/shifts/{shift.pk}/")
    assert page.status_code == 200
    assert b"CAD-SECRET-4471" not in page.content
    # The shift page is now the new team's: the old team's supervisor no longer opens it.
    own = Client()
    own.force_login(field.supervisor)
    assert own.get(f"/supervisor/shifts/{shift.pk}/").status_code == 404
