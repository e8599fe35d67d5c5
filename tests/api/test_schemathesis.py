"""schemathesis against /api/v1/openapi.json, in process through Django's WSGI application.

Every operation is generated from the document the server publishes, so a router another
engineer registers is covered the moment it lands. Path parameters that name an object of the
cast are fixed to that object's id (the rest is generated), so requests reach the endpoints'
real code and not only the 404 of a random UUID.

Checks: no server error (5xx), every status code is documented, the content type and the body
match the schema, and schema-invalid input (negative generation) is refused with a 4xx. Run with
a bearer token of a coordinator (sees every case and person) and of an outsider (sees none of
them). Example counts are bounded so the file runs in about a minute on two cores.

(schemathesis' own pytest loader, `from_fixture(...).parametrize()`, does not run under
pytest 9: it reads a private node attribute that pytest removed. The loop below does the same.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from refuge.accounts import tokens
from tests.conftest import Cast
from tests.factories import RelativeFactory, TaskFactory, TimelineEntryFactory, evidence_file

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Operations that would take the caller's own credentials away mid-run get random ids only.
RANDOM_IDS_ONLY = {"token_id"}


@pytest.fixture
def _connection_kept_open() -> Iterator[None]:
    """Django's WSGI handler closes the database connection after each request, which would end
    the test's transaction; the test client avoids this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _path_objects(cast: Cast) -> dict[str, str]:
    from refuge.alerts.services import calls, emergencies

    emergency = emergencies.emergency_open_call(
        actor=cast.operator, caller=cast.birch, heard="", location_hint="", people=[cast.falcon]
    )
    return {
        "person_id": str(cast.falcon.pk),
        "case_id": str(cast.case.pk),
        "relative_id": str(RelativeFactory(person=cast.falcon, name="Schema Relative").pk),
        "task_id": str(TaskFactory(case=cast.case, assignee=cast.lawyer).pk),
        "entry_id": str(TimelineEntryFactory(case=cast.case).pk),
        "emergency_id": str(emergency.pk),
        "call_id": str(
            calls.call_log(actor=cast.operator, caller=None, heard="Schema call", people=[]).pk
        ),
        "evidence_id": str(evidence_file(case=cast.case, actor=cast.caseworker).pk),
    }


def _failures_of(operation, mode, fixed, headers) -> list[str]:  # type: ignore[no-untyped-def]
    parameters = {name: value for name, value in fixed.items() if f"{{{name}}}" in operation.path}

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=parameters))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - reported per operation by the test
        return [f"{operation.label} [{mode.value}]: {exc}"[:3000]]
    return []


@pytest.mark.usefixtures("_connection_kept_open")
@pytest.mark.parametrize("role", ["coordinator", "outsider"])
def test_the_api_conforms_to_its_schema(role, cast: Cast):
    _token, plaintext = tokens.token_create(actor=None, user=cast.by_role()[role], name="schema")
    headers = {"Authorization": f"Bearer {plaintext}"}
    # The schemathesis WSGI client sends Host: localhost, which the settings allow.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
    fixed = {k: v for k, v in _path_objects(cast).items() if k not in RANDOM_IDS_ONLY}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    findings = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in _failures_of(operation, mode, fixed, headers)
    ]
    assert not findings, "\n\n".join(findings)
