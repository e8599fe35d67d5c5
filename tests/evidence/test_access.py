"""Need-to-know: evidence follows its case. Outsiders get 404 everywhere, exactly like ids that
do not exist, and an upload they attempt writes nothing."""

from __future__ import annotations

import pytest

from refuge.cases.models import CaseType
from refuge.evidence import services
from refuge.evidence.models import EvidenceFile
from tests.evidence.conftest import api_upload, ingest, stored_files, web_upload
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

VIEWERS = ("coordinator", "caseworker", "lawyer")
NOT_VIEWERS = ("outsider", "operator", "analyst", "admin")


@pytest.mark.parametrize("role", VIEWERS)
def test_the_case_team_lists_the_evidence(role, cast, login):
    evidence = ingest(cast)
    response = login(cast.by_role()[role]).get(f"/api/v1/cases/{cast.case.pk}/evidence")
    assert [item["id"] for item in response.json()["items"]] == [str(evidence.pk)]


@pytest.mark.parametrize("role", NOT_VIEWERS)
def test_others_get_404_for_the_list(role, cast, login):
    ingest(cast)
    response = login(cast.by_role()[role]).get(f"/api/v1/cases/{cast.case.pk}/evidence")
    assert response.status_code == 404


@pytest.mark.parametrize("role", NOT_VIEWERS)
def test_others_get_404_for_the_detail_page(role, cast, login):
    evidence = ingest(cast)
    response = login(cast.by_role()[role]).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == 404


@pytest.mark.parametrize("role", NOT_VIEWERS)
def test_others_get_404_for_the_download(role, cast, login):
    evidence = ingest(cast)
    client = login(cast.by_role()[role])
    assert client.get(f"/evidence/{evidence.pk}/download/").status_code == 404
    assert client.get(f"/api/v1/evidence/{evidence.pk}/content").status_code == 404


@pytest.mark.parametrize("role", NOT_VIEWERS)
def test_others_get_404_for_the_api_metadata(role, cast, login):
    evidence = ingest(cast)
    assert login(cast.by_role()[role]).get(f"/api/v1/evidence/{evidence.pk}").status_code == 404


def test_an_outsiders_upload_is_404_and_writes_nothing(cast, login, evidence_dir):
    response = web_upload(login(cast.outsider), cast.case, b"planted file")
    assert response.status_code == 404
    assert stored_files(evidence_dir) == []
    assert not EvidenceFile.objects.exists()


def test_an_outsiders_api_upload_is_404_and_writes_nothing(cast, login, evidence_dir):
    response = api_upload(login(cast.outsider), cast.case, b"planted file")
    assert response.status_code == 404
    assert stored_files(evidence_dir) == []


def test_an_anonymous_upload_writes_nothing(cast, client, evidence_dir):
    response = web_upload(client, cast.case, b"planted file")
    assert response.status_code == 302
    assert stored_files(evidence_dir) == []


def test_an_operator_may_add_evidence_to_an_emergency_case(cast, login):
    emergency = CaseFactory(case_type=CaseType.EMERGENCY, people=[cast.falcon])
    response = api_upload(login(cast.operator), emergency, b"photo from the caller")
    assert response.status_code == 201


def test_an_analyst_sees_the_evidence_of_a_documentation_case(cast, login):
    documentation = CaseFactory(case_type=CaseType.DOCUMENTATION, people=[cast.falcon])
    evidence = services.evidence_ingest(
        actor=cast.coordinator, case=documentation, chunks=[b"video"], original_name="v.mp4"
    )
    response = login(cast.analyst).get(f"/api/v1/evidence/{evidence.pk}")
    assert response.status_code == 200


def test_the_case_page_shows_the_evidence_section(cast, login):
    ingest(cast, name="apology.mp4")
    page = login(cast.lawyer).get(f"/cases/{cast.case.pk}/").content.decode()
    assert 'id="evidence"' in page
    assert "apology.mp4" in page
    assert f"/evidence/cases/{cast.case.pk}/upload/" in page


def test_the_upload_form_works_without_javascript(cast, login):
    page = login(cast.lawyer).get(f"/evidence/cases/{cast.case.pk}/upload/").content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file"' in page
    assert "<script" not in page.split("<main", 1)[-1]


def test_a_working_copy_of_another_cases_file_is_refused(cast, login):
    other_case = CaseFactory(team=cast.case.team)
    foreign = services.evidence_ingest(
        actor=cast.caseworker, case=other_case, chunks=[b"other"], original_name="o.mp4"
    )
    response = api_upload(login(cast.caseworker), cast.case, b"copy", derived_from=str(foreign.pk))
    assert response.status_code == 422
    assert EvidenceFile.objects.filter(case=cast.case).count() == 0


def test_the_case_page_asks_a_fixed_number_of_queries_for_its_evidence(
    cast, login, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = login(cast.caseworker)
    ingest(cast, name="one.mp4")
    client.get(f"/cases/{cast.case.pk}/")
    with CaptureQueriesContext(connection) as one_file:
        client.get(f"/cases/{cast.case.pk}/")
    for number in range(4):
        ingest(cast, name=f"more-{number}.mp4")
    with django_assert_num_queries(len(one_file)):
        page = client.get(f"/cases/{cast.case.pk}/")
    assert "more-3.mp4" in page.content.decode()
