"""The exports API's schemas in the published OpenAPI document: each one under its own name
(ninja names components by class name, so a clash with another app's schema would silently
document the wrong fields), and none generated from a model."""

from __future__ import annotations

import inspect

import pytest
from ninja import ModelSchema, Schema

from refuge.exports.api import schemas

pytestmark = pytest.mark.django_db

OUTPUTS = [
    value
    for name, value in vars(schemas).items()
    if inspect.isclass(value)
    and issubclass(value, Schema)
    and value.__module__ == schemas.__name__
    and name.endswith("Out")
]


@pytest.fixture
def components(client):
    return client.get("/api/v1/openapi.json").json()["components"]["schemas"]


@pytest.mark.parametrize("schema", OUTPUTS, ids=lambda s: s.__name__)
def test_each_output_schema_is_published_with_its_own_fields(components, schema):
    assert set(components[schema.__name__]["properties"]) == set(schema.model_fields)


def test_the_export_documents_are_published(components):
    assert {"RedactedExportOut", "UnredactedExportOut", "ExportRelativeOut"} <= set(components)


def test_no_schema_is_generated_from_a_model():
    assert not [
        v for v in vars(schemas).values() if inspect.isclass(v) and issubclass(v, ModelSchema)
    ]
