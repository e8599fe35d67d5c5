"""People and relatives over the API."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from refuge.people.models import ProtectedPerson, Relative
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE, MOTHER_NAME
from tests.factories import PersonFactory


def identity_reads(person):
    return AuditEntry.objects.filter(
        action="refuge.people.identity.viewed", object_id=str(person.pk)
    )


# --- Listing and reading --------------------------------------------------------------------------


def test_the_list_is_paginated(cast, api_as):
    body = api_as(cast.lawyer).get("people").json()
    assert {k: body[k] for k in ("count", "page", "pages")} == {"count": 2, "page": 1, "pages": 1}


def test_list_items_carry_only_t0_fields(cast, api_as):
    item = api_as(cast.lawyer).get("people").json()["items"][1]
    assert item == {
        "id": str(cast.falcon.pk),
        "pseudonym": "FALCON",
        "risk_level": "high",
        "languages": ["ru"],
        "is_minor": False,
    }


def test_no_identity_appears_in_the_list(cast, api_as):
    content = api_as(cast.coordinator).get("people").content.decode()
    assert FALCON_NAME not in content
    assert BIRCH_NAME not in content


def test_the_list_filters_by_pseudonym(cast, api_as):
    body = api_as(cast.lawyer).get("people", {"q": "fal"}).json()
    assert [p["pseudonym"] for p in body["items"]] == ["FALCON"]


def test_pages_follow_the_page_size(cast, api_as, settings):
    settings.PAGE_SIZE = 1
    body = api_as(cast.lawyer).get("people", {"page": 2}).json()
    assert ([p["pseudonym"] for p in body["items"]], body["pages"]) == (["FALCON"], 2)


def test_past_the_last_page_there_are_no_items(cast, api_as):
    body = api_as(cast.lawyer).get("people", {"page": 5}).json()
    assert (body["items"], body["count"], body["page"]) == ([], 2, 5)


def test_the_detail_says_whether_the_identity_can_be_revealed(cast, api_as):
    body = api_as(cast.lawyer).get(f"people/{cast.birch.pk}").json()
    assert (body["pseudonym"], body["is_minor"], body["can_reveal"]) == ("BIRCH", True, False)


# --- Identity -------------------------------------------------------------------------------------


def test_the_identity_is_served_to_a_team_member(cast, api_as):
    body = api_as(cast.lawyer).get(f"people/{cast.falcon.pk}/identity").json()
    assert (body["legal_name"], body["phones"]) == (FALCON_NAME, [FALCON_PHONE])


def test_a_minors_identity_is_404_for_a_team_member_who_is_not_the_lead(cast, api_as):
    assert api_as(cast.lawyer).get(f"people/{cast.birch.pk}/identity").status_code == 404


def test_a_refused_identity_read_is_not_logged_as_a_read(cast, api_as):
    api_as(cast.lawyer).get(f"people/{cast.birch.pk}/identity")
    assert not identity_reads(cast.birch).exists()


def test_a_minors_identity_is_served_to_the_team_lead(cast, api_as):
    body = api_as(cast.caseworker).get(f"people/{cast.birch.pk}/identity").json()
    assert body["legal_name"] == BIRCH_NAME


def test_an_identity_read_is_audited_with_purpose_api(cast, api_as):
    api_as(cast.caseworker).get(f"people/{cast.birch.pk}/identity")
    entry = identity_reads(cast.birch).get()
    assert (entry.actor_id, json.loads(entry.detail)) == (cast.caseworker.pk, {"purpose": "api"})


# --- Creating and changing ------------------------------------------------------------------------


def test_a_person_can_be_registered_without_an_identity(cast, api_as):
    response = api_as(cast.lawyer).post("people", {"risk_level": "critical"})
    assert response.status_code == 201
    assert ProtectedPerson.objects.get(pk=response.json()["id"]).risk_level == "critical"


def test_a_person_can_be_registered_with_an_identity(cast, api_as):
    response = api_as(cast.lawyer).post(
        "people",
        {
            "pseudonym": "OAK",
            "identity": {"legal_name": "Ali Testov", "phones": ["+7 900 1234567"]},
        },
    )
    person = ProtectedPerson.objects.get(pk=response.json()["id"])
    assert (person.pseudonym, person.legal_name, person.phones) == (
        "OAK",
        "Ali Testov",
        "+7 900 1234567",
    )


def test_registering_a_child_marks_them_as_a_minor(cast, api_as):
    born = (dt.date.today() - dt.timedelta(days=365 * 10)).isoformat()
    response = api_as(cast.lawyer).post("people", {"identity": {"date_of_birth": born}})
    assert response.json()["is_minor"] is True


def test_a_taken_pseudonym_is_refused_per_field(cast, api_as):
    response = api_as(cast.lawyer).post("people", {"pseudonym": "FALCON"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"pseudonym": ["This pseudonym is already taken."]}


def test_an_analyst_cannot_register_people(cast, api_as):
    response = api_as(cast.analyst).post("people", {})
    assert response.status_code == 422
    assert response.json()["detail"] == "Your role cannot change protected people."


def test_a_team_member_changes_risk_and_languages(cast, api_as):
    body = (
        api_as(cast.lawyer)
        .patch(f"people/{cast.falcon.pk}", {"risk_level": "critical", "languages": ["ru", "ce"]})
        .json()
    )
    assert (body["risk_level"], body["languages"]) == ("critical", ["ru", "ce"])


def test_a_team_member_corrects_an_identity(cast, api_as):
    api_as(cast.lawyer).patch(f"people/{cast.falcon.pk}", {"identity": {"aliases": "Rustik"}})
    person = ProtectedPerson.objects.get(pk=cast.falcon.pk)
    assert (person.aliases, person.legal_name) == ("Rustik", FALCON_NAME)


def test_an_identity_one_may_not_read_cannot_be_written(cast, api_as):
    response = api_as(cast.lawyer).patch(
        f"people/{cast.birch.pk}", {"identity": {"legal_name": "Someone Else"}}
    )
    assert response.status_code == 422
    assert "identity" in response.json()["errors"]
    assert ProtectedPerson.objects.get(pk=cast.birch.pk).legal_name == BIRCH_NAME


def test_a_change_is_audited_with_field_names_only(cast, api_as):
    api_as(cast.lawyer).patch(f"people/{cast.falcon.pk}", {"identity": {"legal_name": "New Name"}})
    entry = AuditEntry.objects.get(action="refuge.people.person.updated")
    assert json.loads(entry.detail) == {"fields": ["legal_name"]}


# --- Relatives ------------------------------------------------------------------------------------


def test_relatives_are_listed_with_their_identity(cast, api_as):
    body = api_as(cast.lawyer).get(f"people/{cast.falcon.pk}/relatives").json()
    assert [(r["relation"], r["name"]) for r in body] == [("mother", MOTHER_NAME)]


def test_reading_relatives_is_audited(cast, api_as):
    api_as(cast.lawyer).get(f"people/{cast.falcon.pk}/relatives")
    entry = identity_reads(cast.falcon).get()
    assert json.loads(entry.detail) == {"purpose": "api:relatives"}


def test_a_minors_relatives_are_404_for_a_team_member_who_is_not_the_lead(cast, api_as):
    assert api_as(cast.lawyer).get(f"people/{cast.birch.pk}/relatives").status_code == 404


def test_a_minors_relatives_are_listed_for_the_team_lead(cast, api_as):
    assert api_as(cast.caseworker).get(f"people/{cast.birch.pk}/relatives").json() == []


def test_adding_a_relative_to_a_minor_needs_the_right_to_reveal(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"people/{cast.birch.pk}/relatives", {"relation": "father", "name": "F"}
    )
    assert response.status_code == 404
    assert not Relative.objects.filter(person=cast.birch).exists()


def test_a_relative_is_added_with_phones(cast, api_as):
    response = api_as(cast.lawyer).post(
        f"people/{cast.falcon.pk}/relatives",
        {"relation": "sibling", "name": "Brother", "phones": ["+7 900 1112233", "+7 900 4445566"]},
    )
    assert response.json()["phones"] == ["+7 900 1112233", "+7 900 4445566"]


def test_a_relative_is_changed_field_by_field(cast, api_as):
    mother = Relative.objects.get(person=cast.falcon)
    body = api_as(cast.lawyer).patch(f"relatives/{mother.pk}", {"location": "Grozny"}).json()
    assert (body["name"], body["location"]) == (MOTHER_NAME, "Grozny")


@pytest.mark.parametrize("field", ["relation", "risk_level"])
def test_null_leaves_a_relatives_required_field_unchanged(cast, api_as, field):
    mother = Relative.objects.get(person=cast.falcon)
    response = api_as(cast.lawyer).patch(f"relatives/{mother.pk}", {field: None})
    assert response.json()[field] == getattr(mother, field)


def test_an_unknown_relation_is_422(cast, api_as):
    mother = Relative.objects.get(person=cast.falcon)
    response = api_as(cast.lawyer).patch(f"relatives/{mother.pk}", {"relation": "cousin"})
    assert "relation" in response.json()["errors"]


def test_a_removed_relative_is_gone(cast, api_as):
    mother = Relative.objects.get(person=cast.falcon)
    api_as(cast.lawyer).delete(f"relatives/{mother.pk}")
    assert not Relative.objects.filter(pk=mother.pk).exists()


@pytest.mark.parametrize("role", ["lawyer", "coordinator"])
def test_someone_elses_person_is_not_in_the_list(cast, api_as, role):
    PersonFactory(pseudonym="ELSEWHERE")
    pseudonyms = [
        p["pseudonym"] for p in api_as(cast.by_role()[role]).get("people").json()["items"]
    ]
    assert ("ELSEWHERE" in pseudonyms) is (role == "coordinator")


def test_a_record_that_fails_to_decrypt_is_a_json_500_without_plaintext(cast, api_as):
    # Ciphertext moved to another row does not authenticate (the row id is in the AAD).
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(legal_name_ct=cast.birch.legal_name_ct)
    response = api_as(cast.caseworker).get(f"people/{cast.falcon.pk}/identity")
    assert response.status_code == 500
    assert "legal_name" in response.json()["detail"]
    assert BIRCH_NAME not in response.content.decode()
