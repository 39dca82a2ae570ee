"""Every operation of the OpenAPI document, fuzzed by schemathesis in process: no answer is a 5xx.

The app is driven through its WSGI interface with a brand's HQ admin key, a few generated
requests per operation (bodies, query strings and path parameters that fit the schema, and some
that do not), so the whole document runs in well under a minute. On PostgreSQL this is where
text the database cannot hold (NUL) or integers beyond its range show up.

The operations run in one test (one brand, one key, one loaded document): schemathesis's own
pytest integration does not run on this pytest. A failure lists every operation that answered
a server error, with the request that did it.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from omo.testing import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

EXAMPLES_PER_OPERATION = 4
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing request is reported as made
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run, so a failure is reproducible
    database=None,
)


def _fuzz(operation, headers: dict[str, str]) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.fixture
def wsgi_app():
    """Django's WSGI app inside the test's transaction: as Django's test client does, requests do
    not close the database connection when they start and finish."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_no_operation_answers_a_server_error(brand, wsgi_app):
    headers = {"Authorization": f"Bearer {f.make_api_key(brand, role='hq_admin')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    failures, fuzzed = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed += 1
        try:
            _fuzz(operation, headers)
        except Exception as exc:  # noqa: BLE001 — collected, so one run reports every failing operation
            failures.append(f"{operation.label}: {exc}"[:2000])
    assert fuzzed >= 60
    assert not failures, "\n\n".join(failures)
