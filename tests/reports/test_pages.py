"""The report pages without a browser: every table's CSV, the walls, words and plurals, Spanish."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from incidents.models import FollowUpCase
from reports.pages import adjustment_text
from tests.support import mutation, push

MACRO_TABLES = ["summary", "origins", "over-time", "team-month", "needs", "services", "shifts"]
DVP_TABLES = ["summary", "arrival", "responses-per-incident", "shifts"]


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("who", "program", "tables"), [("macro_analyst", "MACRO", MACRO_TABLES), ("dvp_analyst", "DVP", DVP_TABLES)]
)
def test_every_table_has_a_csv_and_each_download_is_audited(field, who, program, tables):
    user = getattr(field, who)
    client = signed_in(user)
    page = client.get("/reports/", {"program": program}).content.decode()
    for table in tables:
        assert f"/reports/{table}.csv?" in page, table
        response = client.get(f"/reports/{table}.csv", {"program": program})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), table
        assert response.content.decode().splitlines()[0]  # a header row
    assert client.get("/reports/nonsense.csv", {"program": program}).status_code == 404
    assert AuditEvent.objects.filter(action="report.export", actor=user).count() == len(tables)


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("macro_analyst", {"program": "DVP"}, 403),
        ("dvp_analyst", {"program": "MACRO"}, 403),
        ("dvp_supervisor", {"program": "MACRO"}, 403),
        ("supervisor", {"program": "MACRO", "team": "other"}, 404),
        ("dvp_supervisor", {"program": "DVP", "team": "other"}, 404),
        ("responder", {}, 403),
        ("interrupter", {"program": "DVP"}, 403),
    ],
)
def test_the_wall_holds_on_the_pages_and_every_csv(field, who, params, status):
    params = dict(params)
    if params.get("team") == "other":
        params["team"] = (field.team_b if params["program"] == "MACRO" else field.team_d2).pk
    client = signed_in(getattr(field, who))
    assert client.get("/reports/", params).status_code == status
    for table in MACRO_TABLES + DVP_TABLES:
        assert client.get(f"/reports/{table}.csv", params).status_code == status, table


def test_adjustments_are_worded_with_plurals():
    one = {"record_type": "scene_response", "kind": "recorded", "count": 1, "first": "2026-12-10", "last": "2026-12-10"}
    two = {"record_type": "engagement", "kind": "changed", "count": 2, "first": "2026-12-10", "last": "2026-12-14"}
    gone = {
        "record_type": "contact_attempt",
        "kind": "deleted",
        "count": 1,
        "first": "2026-12-03",
        "last": "2026-12-03",
    }
    assert adjustment_text(one, "close") == "+1 scene response recorded after close (10 Dec 2026)"
    assert adjustment_text(two, "close") == "+2 engagements changed after close (10 Dec 2026 – 14 Dec 2026)"
    assert adjustment_text(gone, "close") == "−1 contact attempt deleted after close (3 Dec 2026)"


def test_the_pages_speak_spanish(field):
    page = signed_in(field.dvp_supervisor).get("/reports/", {"lang": "es"}).content.decode()
    assert 'lang="es"' in page and "Respuestas en la escena por incidente" in page and "Informes de DVP" in page
    macro = signed_in(field.macro_analyst).get("/reports/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Atenciones según cómo llegó el trabajo al equipo" in macro
    assert "Despacho del 911" in macro  # the choices' labels too
    public = Client().get("/public/stats", HTTP_ACCEPT_LANGUAGE="es-MX").content.decode()
    assert "Respuesta no policial de Oakland: cifras mensuales" in public and "Total del mes" in public
    # English stays the default, and other pages are not affected.
    assert "Oakland non-police response: monthly counts" in Client().get("/public/stats").content.decode()


def test_the_period_menu_and_the_dates_each_win_when_changed(field):
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    first = today.replace(day=1)
    client = signed_in(field.macro_analyst)
    shown = {
        "shown_start": (today - timedelta(days=29)).isoformat(),
        "shown_end": (today + timedelta(days=1)).isoformat(),
    }
    # The menu changed to "This month", the dates left as shown: this month.
    menu = client.get(
        "/reports/",
        {"program": "MACRO", "period": "this_month", "start": shown["shown_start"], "end": shown["shown_end"], **shown},
    )
    assert f'name="start" type="date" value="{first.isoformat()}"' in menu.content.decode()
    # The dates changed, the menu left: the dates.
    start = (today - timedelta(days=3)).isoformat()
    dates = client.get(
        "/reports/", {"program": "MACRO", "period": "last_30_days", "start": start, "end": shown["shown_end"], **shown}
    )
    body = dates.content.decode()
    assert f'name="start" type="date" value="{start}"' in body and '<option value="custom" selected>' in body


def test_dvp_default_period_finds_the_newest_month_of_follow_ups_alone(field):
    """With nothing in the last 30 days, the page opens on the newest month holding anything the report counts.
    DVP counts follow-ups opened as well as scene responses; the newest month was looked for among scene
    responses only, so a team whose last work was a follow-up opened on an empty 30 days."""
    case = uuid.uuid4()
    push(
        field.api(field.interrupter),
        mutation(1, type_="follow_up_case", record_id=case, fields={"persons": [{"alias": "Cousin"}]}),
    )
    opened = timezone.now() - timedelta(days=75)
    FollowUpCase.objects.filter(pk=case).update(server_received_at=opened)
    body = signed_in(field.dvp_analyst).get("/reports/", {"program": "DVP"}).content.decode()
    first = timezone.localtime(opened).date().replace(day=1)
    assert f'name="start" type="date" value="{first.isoformat()}"' in body
    assert '<option value="custom" selected>' in body
