"""Recording and changing people and their relatives through the web pages."""

import pytest
from django.urls import reverse

from refuge.people.models import ProtectedPerson, Relative
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, MOTHER_NAME

pytestmark = pytest.mark.django_db


NEW_PERSON = {
    "pseudonym": "KESTREL",
    "risk_level": "critical",
    "languages": ["ru", "ce"],
    "legal_name": "Adam Testovich Primerov",
    "aliases": "",
    "date_of_birth": "2001-03-04",
    "phones": "+7 900 555-07-89",
    "messengers": "Telegram: @kestrel_test",
    "address": "",
    "notes": "",
}


def edit_url(person):
    return reverse("people:edit", args=[person.pk])


def falcons_mother(cast):
    return Relative.objects.get(person=cast.falcon)


def test_coordinator_records_a_person_with_an_encrypted_identity(cast, login):
    response = login(cast.coordinator).post(reverse("people:create"), NEW_PERSON)
    person = ProtectedPerson.objects.get(pseudonym="KESTREL")
    assert response.status_code == 302
    assert response["Location"] == reverse("people:detail", args=[person.pk])
    assert person.legal_name == "Adam Testovich Primerov"
    assert person.language_list == ["ru", "ce"]
    assert AuditEntry.objects.filter(
        action="refuge.people.person.created", object_id=str(person.pk)
    ).exists()


def test_person_recorded_without_a_pseudonym_gets_a_generated_one(cast, login):
    before = set(ProtectedPerson.objects.values_list("pk", flat=True))
    login(cast.coordinator).post(reverse("people:create"), {**NEW_PERSON, "pseudonym": ""})
    (person,) = ProtectedPerson.objects.exclude(pk__in=before)
    assert person.pseudonym


def test_create_person_with_bad_phone_returns_400_with_inline_error_and_creates_nothing(
    cast, login
):
    count = ProtectedPerson.objects.count()
    response = login(cast.coordinator).post(
        reverse("people:create"), {**NEW_PERSON, "phones": "call me maybe"}
    )
    assert response.status_code == 400
    assert "is not a phone number" in response.context["form"].errors["phones"][0]
    assert "is not a phone number" in response.content.decode()
    assert ProtectedPerson.objects.count() == count
    assert not AuditEntry.objects.filter(action="refuge.people.person.created").exists()


def test_create_person_with_a_taken_pseudonym_returns_400(cast, login):
    response = login(cast.coordinator).post(
        reverse("people:create"), {**NEW_PERSON, "pseudonym": "FALCON"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["pseudonym"]


def test_case_worker_who_records_a_person_is_sent_to_the_new_record(cast, login):
    response = login(cast.caseworker).post(reverse("people:create"), NEW_PERSON)
    person = ProtectedPerson.objects.get(pseudonym="KESTREL")
    assert response.status_code == 302
    assert response["Location"] == reverse("people:detail", args=[person.pk])


def test_a_person_recorded_by_a_case_worker_is_recorded_for_their_team(cast, login):
    login(cast.caseworker).post(reverse("people:create"), NEW_PERSON)
    assert ProtectedPerson.objects.get(pseudonym="KESTREL").intake_team == cast.case.team


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_roles_that_cannot_record_people_get_403_with_the_reason(cast, login, role):
    response = login(cast.by_role()[role]).get(reverse("people:create"))
    assert response.status_code == 403
    assert "Recording protected people is for case workers" in response.content.decode()


def test_team_member_changes_falcons_phone_and_risk(cast, login):
    response = login(cast.lawyer).post(
        edit_url(cast.falcon),
        {
            **NEW_PERSON,
            "legal_name": FALCON_NAME,
            "phones": "+7 900 555-99-99",
            "risk_level": "low",
        },
    )
    falcon = ProtectedPerson.objects.get(pk=cast.falcon.pk)
    assert response.status_code == 302
    assert falcon.phones == "+7 900 555-99-99"
    assert falcon.risk_level == "low"


def test_edit_form_shows_the_identity_to_a_team_member_and_audits_the_read(cast, login):
    response = login(cast.lawyer).get(edit_url(cast.falcon))
    assert FALCON_NAME in response.content.decode()
    assert AuditEntry.objects.filter(
        action="refuge.people.identity.viewed",
        actor_id=cast.lawyer.pk,
        detail__contains="person_edit",
    ).exists()


def test_edit_form_of_a_minor_shows_a_non_lead_only_the_public_fields(cast, login):
    response = login(cast.lawyer).get(edit_url(cast.birch))
    assert response.status_code == 200
    assert "legal_name" not in response.context["form"].fields
    assert BIRCH_NAME not in response.content.decode()


def test_non_lead_cannot_change_a_minors_identity_by_posting_the_fields(cast, login):
    login(cast.lawyer).post(
        edit_url(cast.birch),
        {"risk_level": "high", "languages": ["ru"], "legal_name": "Someone Else"},
    )
    assert ProtectedPerson.objects.get(pk=cast.birch.pk).legal_name == BIRCH_NAME


def test_invalid_edit_returns_400_and_saves_nothing(cast, login):
    response = login(cast.lawyer).post(
        edit_url(cast.falcon),
        {**NEW_PERSON, "legal_name": "Changed Name", "phones": "not a phone"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["phones"]
    assert ProtectedPerson.objects.get(pk=cast.falcon.pk).legal_name == FALCON_NAME


def test_edit_without_languages_returns_400(cast, login):
    response = login(cast.lawyer).post(edit_url(cast.falcon), {"risk_level": "high"})
    assert response.status_code == 400
    assert response.context["form"].errors["languages"]


def test_outsider_gets_404_on_the_edit_page(cast, login):
    assert login(cast.outsider).get(edit_url(cast.falcon)).status_code == 404


def test_operator_who_may_view_falcon_gets_404_on_editing_him(cast, login):
    assert login(cast.operator).get(edit_url(cast.falcon)).status_code == 404


def test_team_member_adds_a_relative_to_falcon(cast, login):
    response = login(cast.lawyer).post(
        reverse("people:relative_add", args=[cast.falcon.pk]),
        {"relation": "sibling", "risk_level": "high", "name": "Brother Testaev", "phones": ""},
    )
    assert response.status_code == 302
    assert Relative.objects.filter(person=cast.falcon, relation="sibling").exists()


def test_relative_with_a_bad_phone_returns_400_and_is_not_added(cast, login):
    response = login(cast.lawyer).post(
        reverse("people:relative_add", args=[cast.falcon.pk]),
        {"relation": "sibling", "risk_level": "high", "phones": "nope"},
    )
    assert response.status_code == 400
    assert Relative.objects.filter(person=cast.falcon).count() == 1


def test_non_lead_gets_404_on_adding_a_relative_to_a_minor(cast, login):
    response = login(cast.lawyer).get(reverse("people:relative_add", args=[cast.birch.pk]))
    assert response.status_code == 404


def test_team_member_changes_a_relatives_phone(cast, login):
    mother = falcons_mother(cast)
    response = login(cast.lawyer).post(
        reverse("people:relative_edit", args=[mother.pk]),
        {
            "relation": "mother",
            "risk_level": "high",
            "name": MOTHER_NAME,
            "phones": "+7 928 000-00-00",
        },
    )
    assert response.status_code == 302
    assert Relative.objects.get(pk=mother.pk).phones == "+7 928 000-00-00"


def test_relative_edit_form_read_is_audited(cast, login):
    mother = falcons_mother(cast)
    response = login(cast.lawyer).get(reverse("people:relative_edit", args=[mother.pk]))
    assert MOTHER_NAME in response.content.decode()
    assert AuditEntry.objects.filter(
        action="refuge.people.identity.viewed", detail__contains="relative_edit"
    ).exists()


def test_outsider_gets_404_on_a_relatives_edit_page(cast, login):
    mother = falcons_mother(cast)
    response = login(cast.outsider).get(reverse("people:relative_edit", args=[mother.pk]))
    assert response.status_code == 404


def test_relative_removal_asks_for_confirmation_first(cast, login):
    mother = falcons_mother(cast)
    response = login(cast.lawyer).get(reverse("people:relative_remove", args=[mother.pk]))
    assert response.status_code == 200
    assert MOTHER_NAME not in response.content.decode()
    assert Relative.objects.filter(pk=mother.pk).exists()


def test_confirmed_relative_removal_deletes_the_relative(cast, login):
    mother = falcons_mother(cast)
    response = login(cast.lawyer).post(reverse("people:relative_remove", args=[mother.pk]))
    assert response.status_code == 302
    assert not Relative.objects.filter(pk=mother.pk).exists()
    assert AuditEntry.objects.filter(
        action="refuge.people.relative.removed", object_id=str(mother.pk)
    ).exists()


def test_operator_opens_the_page_to_record_a_person(cast, login):
    response = login(cast.operator).get(reverse("people:create"))
    assert response.status_code == 200
    assert "legal_name" in response.context["form"].fields


def test_team_member_opens_the_form_to_add_a_relative(cast, login):
    response = login(cast.lawyer).get(reverse("people:relative_add", args=[cast.falcon.pk]))
    assert response.status_code == 200
