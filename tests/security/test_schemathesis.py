"""schemathesis over the project's own OpenAPI schema, in process, authenticated as real users.

Every operation, with generated valid and invalid input: no 5xx, and responses match the schema where the
schema describes them. Fixed seed and a bounded number of examples in `make test`;
SCHEMATHESIS_MAX_EXAMPLES raises it (make test-long).
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.wsgi import application
from tests.support import issue_access_token

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))


@pytest.fixture
def api_schema(db):
    # Like Django's test client: a request must not close the test's connection (and its transaction).
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(field):
    """Fresh sessions of a program-wide MACRO supervisor and a DVP coordinator for every call (between them,
    every endpoint has a reader; fresh because the run also calls logout, which ends the session it uses)."""
    devices = {u: field.device(u) for u in (field.program_supervisor, field.coordinator)}
    return lambda: [issue_access_token(u, d) for u, d in devices.items()]


def test_no_operation_answers_5xx_or_breaks_its_schema(api_schema, tokens):
    # schemathesis' pytest plugin does not load under pytest 9; its Python API runs each operation as a
    # hypothesis test here instead, with the same checks.
    operations, failures, calls = 0, [], [0]
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                for token in tokens():
                    calls[0] += 1
                    case.call_and_validate(
                        headers={"Authorization": f"Bearer {token}"},
                        checks=[
                            not_a_server_error,
                            status_code_conformance,
                            response_schema_conformance,
                            content_type_conformance,
                        ],
                    )

            try:
                run()
            except Unsatisfiable:
                continue  # nothing in this operation can be made invalid (no parameters, no body)
            except Exception as exc:  # noqa: BLE001 - collected and reported together below
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    print(f"schemathesis: {operations} operations, {calls[0]} calls")  # the figure docs/security.md quotes
    assert operations >= 40 and calls[0] >= operations * 2
    assert not failures, "\n\n".join(failures)


def test_schema_generates_without_errors_or_warnings():
    """Every endpoint is described (an undescribed one would escape the run above)."""
    import subprocess
    import sys

    from django.conf import settings as django_settings

    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": "sqlite:///:memory:"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
