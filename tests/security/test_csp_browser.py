"""The strict CSP holds on the API docs and the admin too, and both still work (headless Chromium)."""

import pytest

pytestmark = pytest.mark.browser


def _watch(page):
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def test_api_docs_render_under_the_strict_csp(live_server, browser):
    import os

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    page = browser.new_page()
    refused = _watch(page)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for(timeout=30000)  # Swagger UI drew the operations
    assert page.locator(".opblock").count() > 40
    assert not refused, refused


def test_admin_signs_in_under_the_strict_csp(transactional_db, live_server, browser):
    from responders.models import User

    user = User.objects.create(username="root-csp", is_staff=True, is_superuser=True)
    user.set_password("admin-csp-password-1")
    user.save()
    page = browser.new_page()
    refused = _watch(page)
    response = page.goto(f"{live_server.url}/admin/login/")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.fill("#id_username", "root-csp")
    page.fill("#id_password", "admin-csp-password-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/responders/user/")
    page.get_by_text("root-csp").first.wait_for()
    assert not refused, refused
