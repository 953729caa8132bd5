"""A crew member who signs in at /supervisor/ is sent to the field app in words, not shown raw JSON."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_responder_at_the_supervisor_pages_gets_a_page_pointing_to_the_field_app(field):
    field.responder.set_password("crew-member-pw-1")
    field.responder.save()
    client = Client()
    assert client.login(username=field.responder.username, password="crew-member-pw-1")
    response = client.get("/supervisor/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "These pages are for supervisors, coordinators and program admins." in body
    assert 'href="/app/"' in body
