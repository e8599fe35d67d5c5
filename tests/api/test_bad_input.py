"""Bad input gets a 4xx with a clear message, changes nothing, and never causes a 500."""

from __future__ import annotations

import json

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refuge.cases.models import Case
from refuge.people.models import Relative
from tests.api.conftest import audit_count


@pytest.fixture
def lawyer_api(cast, api_as):
    return api_as(cast.lawyer)


def test_malformed_json_is_400(cast, lawyer_api):
    response = lawyer_api.post(f"cases/{cast.case.pk}/timeline", raw='{"kind": "note",')
    assert response.status_code == 400
    assert response.json() == {"detail": "The request body must be a valid JSON object."}


def test_malformed_json_changes_nothing(cast, lawyer_api):
    before = audit_count()
    lawyer_api.post(f"cases/{cast.case.pk}/timeline", raw="{nope")
    assert audit_count() == before


def test_a_json_array_is_not_taken_for_an_empty_object(cast, lawyer_api):
    response = lawyer_api.post("people", [1])
    assert response.status_code == 400


def test_a_lone_surrogate_is_400(cast, lawyer_api):
    response = lawyer_api.post(
        f"cases/{cast.case.pk}/timeline", raw='{"kind": "note", "text": "\\ud800"}'
    )
    assert response.status_code == 400


def test_a_missing_body_is_422(cast, lawyer_api):
    response = lawyer_api.post(f"cases/{cast.case.pk}/transition")
    assert response.status_code == 422


def test_a_wrong_type_is_422_naming_the_field(cast, lawyer_api):
    response = lawyer_api.patch(f"cases/{cast.case.pk}", {"summary": 5})
    assert response.status_code == 422
    assert response.json()["errors"] == {"summary": ["Send text here."]}


def test_an_oversized_string_is_422(cast, lawyer_api):
    response = lawyer_api.patch(f"cases/{cast.case.pk}", {"summary": "x" * 20_001})
    assert response.json()["errors"] == {"summary": ["Too long: at most 20000 characters."]}


def test_an_oversized_string_changes_nothing(cast, lawyer_api):
    lawyer_api.patch(f"cases/{cast.case.pk}", {"summary": "x" * 20_001})
    assert Case.objects.get(pk=cast.case.pk).summary == "Evacuation summary"


def test_an_unknown_enum_value_lists_the_choices(cast, lawyer_api):
    response = lawyer_api.patch(f"cases/{cast.case.pk}", {"risk_level": "extreme"})
    assert response.json()["errors"] == {
        "risk_level": ["Choose one of: 'low', 'medium', 'high' or 'critical'."]
    }


def test_a_nested_error_names_the_nested_field(cast, lawyer_api):
    response = lawyer_api.post("people", {"identity": {"phones": ["1" * 201]}})
    assert list(response.json()["errors"]) == ["identity.phones.0"]


def test_an_unknown_field_is_refused_not_ignored(cast, lawyer_api):
    response = lawyer_api.patch(f"cases/{cast.case.pk}", {"risk": "low"})
    assert response.json()["errors"] == {
        "risk": ["This field is not part of the request; remove it."]
    }


def test_a_malformed_id_in_the_path_is_422(cast, lawyer_api):
    response = lawyer_api.get("cases/not-a-uuid")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["case_id"]


def test_a_malformed_id_in_the_body_is_422(cast, lawyer_api):
    response = lawyer_api.post("cases", {"case_type": "legal", "team": "moscow"})
    assert list(response.json()["errors"]) == ["team"]


def test_a_nul_character_in_a_search_is_422(cast, lawyer_api):
    response = lawyer_api.get("people", {"q": "FAL\x00"})
    assert response.status_code == 422


def test_a_nul_character_in_text_is_422(cast, lawyer_api):
    response = lawyer_api.post(f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "a\x00b"})
    assert response.status_code == 422


def test_a_page_below_one_is_422(cast, lawyer_api):
    assert lawyer_api.get("cases", {"page": 0}).status_code == 422


def test_a_body_over_the_upload_limit_is_413(cast, lawyer_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = lawyer_api.post(
        f"cases/{cast.case.pk}/timeline", {"kind": "note", "text": "x" * 20_000}
    )
    assert response.status_code == 413


def test_domain_errors_come_in_the_requested_language(cast, lawyer_api):
    response = lawyer_api.post(
        f"cases/{cast.case.pk}/transition",
        {"status": "archived"},
        headers={"Accept-Language": "ru"},
    )
    assert response.json()["detail"] == _transition_refusal("ru")
    assert _transition_refusal("ru") != _transition_refusal("en")


def test_not_found_comes_in_the_requested_language(cast, api_as):
    response = api_as(cast.outsider).get(f"cases/{cast.case.pk}", headers={"Accept-Language": "ru"})
    assert response.json() == {"detail": "Не найдено."}


def test_validation_errors_are_introduced_in_the_requested_language(cast, lawyer_api):
    response = lawyer_api.get("cases", {"page": 0}, headers={"Accept-Language": "ru"})
    with translation.override("ru"):
        assert response.json()["detail"] == translation.gettext("Please correct the errors below.")


TRANSITION_REFUSAL = (
    "A case cannot go from “%(current)s” to “%(target)s”. Allowed next statuses: %(allowed)s."
)


def _transition_refusal(language):
    with translation.override(language):
        allowed = [translation.gettext("Verification"), translation.gettext("Closed")]
        return translation.gettext(TRANSITION_REFUSAL) % {
            "current": translation.gettext("Intake"),
            "target": "archived",
            "allowed": ", ".join(allowed),
        }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Values that get past the schema, so the fuzzing reaches the services and the database too.
PLAUSIBLE = [
    "low",
    "critical",
    "ru",
    "ce",
    "mother",
    "legal",
    "emergency",
    "verification",
    "archived",
    "note",
    "call",
    "",
    " ",
    "a\x00b",
    "FALCON",
    "OAK-1",
    "+7 900 1234567",
    "x" * 300,
    "2000-02-29",
    "1899-12-31",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "2020-01-01T10:00:00Z",
    "2020-01-01T10:00:00",
    "00000000-0000-4000-8000-000000000000",
]
FIELDS = {
    "POST people": ["pseudonym", "risk_level", "languages", "identity"],
    "PATCH people/{falcon}": ["risk_level", "languages", "identity"],
    "POST people/{falcon}/relatives": ["relation", "risk_level", "name", "phones", "location"],
    "PATCH relatives/{mother}": ["relation", "risk_level", "name", "phones", "notes"],
    "POST cases": ["case_type", "team", "people", "risk_level", "summary"],
    "PATCH cases/{case}": ["risk_level", "summary", "team", "people"],
    "POST cases/{case}/transition": ["status", "note"],
    "POST cases/{case}/timeline": ["kind", "text", "occurred_at"],
    "POST cases/{case}/tasks": ["title", "due_date", "assignee"],
}
IDENTITY = ["legal_name", "date_of_birth", "phones", "messengers", "address"]


def _value(ids):
    scalar = st.sampled_from(PLAUSIBLE + ids) | json_values
    identity = st.fixed_dictionaries(
        {}, optional=dict.fromkeys(IDENTITY, scalar | st.lists(scalar, max_size=3))
    )
    return scalar | st.lists(scalar, max_size=3) | identity


def _path(template, cast):
    # The cast's relative; successful fuzzed POSTs may have added more.
    mother = Relative.objects.filter(person=cast.falcon).order_by("created_at").first()
    return template.format(falcon=cast.falcon.pk, mother=mother.pk, case=cast.case.pk)


@pytest.mark.parametrize("endpoint", FIELDS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_arbitrary_input_never_causes_a_server_error(cast, lawyer_api, endpoint, data):
    ids = [str(cast.falcon.pk), str(cast.birch.pk), str(cast.case.team_id), str(cast.lawyer.pk)]
    body = data.draw(
        st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS[endpoint], _value(ids)))
        | json_values
    )
    method, _sep, template = endpoint.partition(" ")
    before = audit_count()
    response = lawyer_api.request(method, _path(template, cast), raw=json.dumps(body))
    assert response.status_code in {200, 201, 400, 422}, response.content
    if response.status_code >= 400:
        assert audit_count() == before


def test_field_messages_come_in_the_requested_language(cast, lawyer_api):
    response = lawyer_api.patch(
        f"cases/{cast.case.pk}", {"summary": 5}, headers={"Accept-Language": "ru"}
    )
    assert response.json()["errors"] == {"summary": ["Здесь нужен текст."]}
