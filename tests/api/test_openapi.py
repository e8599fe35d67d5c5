"""The OpenAPI document is generated from the code; these tests keep it complete and honest."""

from __future__ import annotations

import inspect
import re

import pytest
from ninja import ModelSchema

from refuge.accounts import api as accounts_api
from refuge.cases.api import schemas as cases_schemas
from refuge.config.api import api
from refuge.people import api as people_api

ROUTES = {
    ("get", "/api/v1/me"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens/{token_id}/revoke"),
    ("get", "/api/v1/seal"),
    ("post", "/api/v1/seal/unseal"),
    ("post", "/api/v1/seal/seal"),
    ("get", "/api/v1/people"),
    ("post", "/api/v1/people"),
    ("post", "/api/v1/people/search"),
    ("get", "/api/v1/people/{person_id}"),
    ("patch", "/api/v1/people/{person_id}"),
    ("get", "/api/v1/people/{person_id}/identity"),
    ("get", "/api/v1/people/{person_id}/relatives"),
    ("post", "/api/v1/people/{person_id}/relatives"),
    ("patch", "/api/v1/relatives/{relative_id}"),
    ("delete", "/api/v1/relatives/{relative_id}"),
    ("get", "/api/v1/relatives/{relative_id}/contacts"),
    ("post", "/api/v1/relatives/{relative_id}/contacts"),
    ("post", "/api/v1/relative-contacts/{contact_id}/followed-up"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases/{case_id}"),
    ("patch", "/api/v1/cases/{case_id}"),
    ("post", "/api/v1/cases/{case_id}/transition"),
    ("get", "/api/v1/cases/{case_id}/timeline"),
    ("post", "/api/v1/cases/{case_id}/timeline"),
    ("get", "/api/v1/cases/{case_id}/tasks"),
    ("post", "/api/v1/cases/{case_id}/tasks"),
    ("post", "/api/v1/tasks/{task_id}/complete"),
    ("post", "/api/v1/tasks/{task_id}/reopen"),
    # The emergency line.
    ("get", "/api/v1/emergencies"),
    ("post", "/api/v1/emergencies"),
    ("get", "/api/v1/emergencies/{emergency_id}"),
    ("post", "/api/v1/emergencies/{emergency_id}/acknowledge"),
    ("post", "/api/v1/emergencies/{emergency_id}/en-route"),
    ("get", "/api/v1/emergencies/{emergency_id}/events"),
    ("post", "/api/v1/emergencies/{emergency_id}/notes"),
    ("post", "/api/v1/emergencies/{emergency_id}/on-site"),
    ("post", "/api/v1/emergencies/{emergency_id}/resolve"),
    ("get", "/api/v1/emergencies/{emergency_id}/pages"),
    ("post", "/api/v1/emergencies/{emergency_id}/time-corrections"),
    ("get", "/api/v1/calls"),
    ("post", "/api/v1/calls"),
    ("get", "/api/v1/calls/{call_id}"),
    ("post", "/api/v1/calls/{call_id}/escalate"),
    ("delete", "/api/v1/escalation-steps/{step_id}"),
    ("patch", "/api/v1/escalation-steps/{step_id}"),
    ("post", "/api/v1/escalation-steps/{step_id}/move"),
    ("get", "/api/v1/me/channels"),
    ("post", "/api/v1/me/channels"),
    ("delete", "/api/v1/me/channels/{channel_id}"),
    ("patch", "/api/v1/me/channels/{channel_id}"),
    ("post", "/api/v1/me/channels/{channel_id}/move"),
    ("get", "/api/v1/people/{person_id}/checkin-schedule"),
    ("put", "/api/v1/people/{person_id}/checkin-schedule"),
    ("get", "/api/v1/people/{person_id}/checkin-schedule/checkins"),
    ("delete", "/api/v1/people/{person_id}/checkin-schedule/link"),
    ("post", "/api/v1/people/{person_id}/checkin-schedule/link"),
    ("post", "/api/v1/people/{person_id}/checkin-schedule/pause"),
    ("post", "/api/v1/people/{person_id}/checkin-schedule/pins"),
    ("post", "/api/v1/people/{person_id}/checkin-schedule/resume"),
    ("post", "/api/v1/people/{person_id}/checkin-schedule/unlock"),
    ("get", "/api/v1/policies"),
    ("post", "/api/v1/policies"),
    ("delete", "/api/v1/policies/{policy_id}"),
    ("get", "/api/v1/policies/{policy_id}"),
    ("patch", "/api/v1/policies/{policy_id}"),
    ("post", "/api/v1/policies/{policy_id}/steps"),
    ("delete", "/api/v1/rota-members/{member_id}"),
    ("post", "/api/v1/rota-members/{member_id}/move"),
    ("delete", "/api/v1/rota-overrides/{override_id}"),
    ("get", "/api/v1/rotas"),
    ("post", "/api/v1/rotas"),
    ("delete", "/api/v1/rotas/{rota_id}"),
    ("get", "/api/v1/rotas/{rota_id}"),
    ("patch", "/api/v1/rotas/{rota_id}"),
    ("post", "/api/v1/rotas/{rota_id}/members"),
    ("get", "/api/v1/rotas/{rota_id}/on-call"),
    # Evidence files.
    ("get", "/api/v1/cases/{case_id}/evidence"),
    ("post", "/api/v1/cases/{case_id}/evidence/upload"),
    ("get", "/api/v1/evidence/{evidence_id}"),
    ("get", "/api/v1/evidence/{evidence_id}/content"),
    ("post", "/api/v1/rotas/{rota_id}/overrides"),
    # Exports (the two-person rule for unredacted ones).
    ("post", "/api/v1/exports/redacted"),
    ("get", "/api/v1/exports"),
    ("post", "/api/v1/exports"),
    ("get", "/api/v1/exports/{export_id}"),
    ("post", "/api/v1/exports/{export_id}/approve"),
    ("post", "/api/v1/exports/{export_id}/reject"),
    ("post", "/api/v1/exports/{export_id}/download"),
    # Coordinators' security notices, with where each was sent.
    ("get", "/api/v1/notices"),
    ("post", "/api/v1/notices/seen"),
}


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    return {
        (method, path): op for path, ops in schema["paths"].items() for method, op in ops.items()
    }


def _ninja_operations():
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            yield from path_view.operations


def test_the_schema_lists_every_route(schema):
    assert set(_operations(schema)) == ROUTES


def test_every_url_pattern_is_in_the_schema(schema):
    documented = {path for _method, path in _operations(schema)}
    for pattern in api.urls[0]:
        route = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        if route not in {"/api/v1/openapi.json", "/api/v1/"}:
            assert route in documented


@pytest.mark.parametrize("status", [404, 422])
def test_every_ninja_operation_declares_the_error(status):
    missing = [
        op.view_func.__name__ for op in _ninja_operations() if status not in op.response_models
    ]
    assert not missing


@pytest.mark.parametrize("status", ["401", "404", "422"])
def test_every_documented_operation_describes_the_error_shape(schema, status):
    for (method, path), op in _operations(schema).items():
        content = op["responses"][status]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)


def test_every_operation_requires_authentication(schema):
    assert all(op.get("security") for op in _operations(schema).values())


def test_both_token_and_session_authentication_are_documented(schema):
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}


@pytest.mark.parametrize(
    "module", [accounts_api, people_api, cases_schemas], ids=lambda m: m.__name__
)
def test_no_schema_is_generated_from_a_model(module):
    # Explicit fields only: a ModelSchema would publish every new model field, identities included.
    generated = [
        name
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, ModelSchema)
    ]
    assert not generated


def test_the_cdn_backed_docs_page_is_not_served(client):
    assert client.get("/api/v1/docs").status_code == 404
