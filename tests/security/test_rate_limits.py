"""Rate limits shared by every process, keyed on a client address the client cannot forge."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from audit.models import AuditEvent
from backend.network import client_address
from tests.support import fresh_address, throttle_rates


def _request(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    # Not from the proxy: the header is the client's own claim, ignored.
    assert client_address(_request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    # From the proxy: the hop it added (the rightmost) is the client; what the client put before it is not.
    assert client_address(_request("10.0.0.5", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    # Two trusted proxies in a row, given as a network.
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_address(_request("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.9")) == "198.51.100.7"
    # Garbage where an address should be: the last trusted hop, never the garbage.
    assert client_address(_request("10.0.0.5", "not-an-ip")) == "10.0.0.5"


def test_rotating_forwarded_for_does_not_escape_the_login_limit(db, settings):
    settings.TRUSTED_PROXIES = []
    address = fresh_address()
    with throttle_rates(settings, login="3/min"):
        codes = [
            APIClient(REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
            .post("/api/v1/auth/login", {"username": "x", "password": "y", "device_id": str(uuid.uuid4())})
            .status_code
            for i in range(6)
        ]
    assert codes == [401, 401, 401, 429, 429, 429]


def test_the_audit_trail_records_the_same_client_address_as_the_limits(db, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.5"]
    APIClient(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7").post(
        "/api/v1/auth/login", {"username": "nobody", "password": "y", "device_id": str(uuid.uuid4())}
    )
    assert AuditEvent.objects.get(action="auth.login_failed").ip == "198.51.100.7"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(port, deadline):
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # noqa: S310
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_login_limit_is_shared_by_several_worker_processes():
    """Three server processes, one login budget: 10/min means ten answers before 429, not thirty."""
    prefix = f"tests-shared-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"],
        "THROTTLE_LOGIN": "10/min",
        "CACHE_KEY_PREFIX": prefix,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    ports = [_free_port() for _ in range(3)]
    servers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "backend.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        assert all(_wait_until_up(port, deadline) for port in ports), "a server did not start"
        codes = []
        for i in range(30):
            request = urllib.request.Request(  # noqa: S310
                f"http://127.0.0.1:{ports[i % 3]}/api/v1/auth/login",
                # A new username each time: the lockout (per username) stays out of this count.
                data=b'{"username": "ghost-%d", "password": "x", "device_id": "%s"}' % (i, str(uuid.uuid4()).encode()),
                headers={"Content-Type": "application/json", "X-Forwarded-For": f"198.51.100.{i}"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    codes.append(response.status)
            except urllib.error.HTTPError as exc:
                codes.append(exc.code)
        assert codes.count(401) == 10, codes
        assert codes.count(429) == 20, codes
        assert AuditEvent.objects.filter(action="auth.login_failed").count() == 10
        assert codes[:10] == [401] * 10
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=20)
