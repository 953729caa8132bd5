"""Loaded by pytest before Django settings: the test environment's defaults.

Tests run on PostgreSQL (the production database). Anything set in the real
environment wins.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/field_records")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijkl")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# The cache (rate-limit counts) in its own Redis database, with keys of this test run only: tests never clear
# it (a clear would flush the database), they use fresh client addresses (tests/support.py::fresh_address).
os.environ.setdefault("CACHE_REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("CACHE_KEY_PREFIX", f"tests-{os.getpid()}")
os.environ.setdefault("THROTTLE_USER", "100000/min")
os.environ.setdefault("THROTTLE_ANON", "100000/min")
os.environ.setdefault("THROTTLE_LOGIN", "100000/min")
os.environ.setdefault("THROTTLE_SYNC", "100000/min")
# Tests that push from many threads at once wait for a push slot rather than get 503; the admission test
# (tests/sync/test_admission.py) sets its own limits.
os.environ.setdefault("SYNC_PUSH_QUEUE_SECONDS", "60")
# Each test process gets its own Celery queue on the shared Redis, and a short visibility timeout so a task
# whose worker was killed is redelivered within seconds.
os.environ.setdefault("CELERY_QUEUE", f"tests-{os.getpid()}")
os.environ.setdefault("CELERY_VISIBILITY_TIMEOUT", "3")
os.environ.setdefault("CELERY_RESTORE_INTERVAL", "1")
os.environ.setdefault("CELERY_RESTORE_THROTTLE", "1")


def pytest_collection_modifyitems(config, items):
    """Tests that commit for real run in a serial phase (scripts/test.sh), after the parallel one.

    PostgreSQL's snapshot horizon is cluster-wide: while another worker's test holds a transaction open
    (in its own database), pulls correctly hold back newer changes, so a test that expects to see its
    own commits at once must not run beside it.
    """
    import pytest

    for item in items:
        marker = item.get_closest_marker("django_db")
        transactional = (
            "transactional_db" in item.fixturenames
            or "live_server" in item.fixturenames
            or (marker is not None and marker.kwargs.get("transaction"))
        )
        if transactional:
            item.add_marker(pytest.mark.serial)
