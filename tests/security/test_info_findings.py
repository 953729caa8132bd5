"""The informational findings: no-store on every error, no unsafe-inline anywhere, emails never marked sent
when they were not."""

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from notifications.models import Notification
from notifications.services import notification_email


def test_a_413_is_not_stored_either(field, settings):
    settings.MAX_REQUEST_BYTES = 100
    api = field.api(field.responder)
    response = api.post("/api/v1/engagements", {"notes": "x" * 500}, format="json")
    assert response.status_code == 413 and response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/supervisor/login/", "/public/stats"])
def test_no_page_allows_inline_script_or_style(db, path):
    response = Client().get(path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert b"<script>" not in response.content and b"<style>" not in response.content


def test_the_admin_is_not_cached(db):
    assert Client().get("/admin/login/")["Cache-Control"] == "no-store"
    assert APIClient().get("/api/docs/?script")["Content-Type"].startswith("application/javascript")


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


def _notification(field):
    field.supervisor.email = "supervisor@example.org"
    field.supervisor.save()
    return Notification.objects.create(
        recipient=field.supervisor, kind="follow_up_overdue", subject="A case is overdue", dedupe_key="k-1"
    )


def test_an_email_the_server_refused_is_not_marked_sent_and_is_retried(field, settings):
    notification = _notification(field)
    settings.EMAIL_BACKEND = "tests.security.test_info_findings.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):  # the task's autoretry takes it from here
        notification_email(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notification_email(notification_id=notification.pk) is True
    assert notification_email(notification_id=notification.pk) is False  # sent once
    notification.refresh_from_db()
    assert notification.emailed_at is not None and len(mail.outbox) == 1
