"""A crew member picks a shift partner from the people on their own team, and only from them."""

import pytest

pytestmark = pytest.mark.django_db


def test_me_lists_teammates_of_own_team_only(field):
    body = field.api(field.responder).get("/api/v1/me").json()
    names = {t["username"] for t in body["teammates"]}
    assert field.partner.username in names and field.supervisor.username in names
    assert field.responder.username not in names
    assert field.other_team.username not in names and field.interrupter.username not in names


def test_program_wide_roles_have_no_teammates(field):
    assert field.api(field.program_supervisor).get("/api/v1/me").json()["teammates"] == []
