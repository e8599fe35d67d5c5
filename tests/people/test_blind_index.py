"""Blind indexes on phone numbers and legal names (security design b.5)."""

from __future__ import annotations

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from refuge.core.errors import DomainError
from refuge.people import blind_index, normalise, selectors, services
from refuge.people.models import BlindIndexEntry
from refuge.security.crypto import LocalKeyCrypto
from refuge.security.models import AuditEntry
from tests.conftest import BIRCH_NAME, FALCON_NAME, FALCON_PHONE
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

CYRILLIC_FALCON = "Рустам Заурбекович Тестаев"


@pytest.fixture
def indexed(cast):
    """The cast comes from factories, which bypass the services: index it like the command."""
    services.blind_indexes_rebuild()
    return cast


def search(actor, **query):
    return [p.pseudonym for p in selectors.person_search_identity(actor=actor, **query)]


# --- Normalisers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "+7 900 555-01-23",
        "89005550123",
        "8 (900) 555 01 23",
        "007 900 5550123",
        "79005550123",
        "9005550123",
        "+7\u00a0900\u00a05550123",
    ],
)
def test_russian_numbers_become_e164(spelling):
    assert normalise.phone(spelling) == "+79005550123"


def test_other_numbers_keep_their_plus_and_digits():
    assert normalise.phone("+49 30 1234-5678") == "+493012345678"
    assert normalise.phone("0049 30 12345678") == "+493012345678"
    assert normalise.phone("12-34") == ""


def test_names_match_across_scripts_case_and_order():
    latin = normalise.legal_name(FALCON_NAME)
    assert latin == "rustam testaev zaurbekovich"
    assert normalise.legal_name(CYRILLIC_FALCON) == latin
    assert normalise.legal_name("  TESTAEV   rustam\tZaurbekovich ") == latin
    assert normalise.legal_name("Rustam Testaev") != latin


# --- Choosing L -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [4, 17, 500, 5_000, 50_000, 500_000])
def test_l_keeps_coincidences_inside_the_budget(rows):
    bits = blind_index.bits_for(rows, BlindIndexEntry.Kind.PHONE)
    c = blind_index.expected_coincidences(rows, bits)
    assert 2 <= c < 4
    if rows > 16:
        assert c < rows**0.5


def test_rebuild_changes_l_when_r_grows(indexed, capsys):
    call_command("bidx", "rebuild")
    first = set(BlindIndexEntry.objects.filter(kind="name").values_list("bits", flat=True))
    assert first == {blind_index.bits_for(2, "name")}
    PersonFactory.create_batch(30)
    call_command("bidx", "rebuild")
    out = capsys.readouterr().out
    after = set(BlindIndexEntry.objects.filter(kind="name").values_list("bits", flat=True))
    assert after == {blind_index.bits_for(32, "name")} == {4}
    assert after != first
    assert "name: 32 entries, L=4 bits" in out
    assert AuditEntry.objects.filter(action="refuge.people.blind_index.rebuilt").exists()
    assert search(indexed.caseworker, name=CYRILLIC_FALCON) == ["FALCON"]


# --- Values ---------------------------------------------------------------------------------------


def test_an_index_value_is_stable_and_depends_on_the_master_key():
    one, other = LocalKeyCrypto(b"\x01" * 32), LocalKeyCrypto(b"\x02" * 32)
    value = normalise.phone(FALCON_PHONE)
    assert one.blind_index("people.phone", value, bits=16) == one.blind_index(
        "people.phone", value, bits=16
    )
    assert one.blind_index("people.phone", value, bits=16) != other.blind_index(
        "people.phone", value, bits=16
    )
    assert one.blind_index("people.phone", value, bits=16) != one.blind_index(
        "people.name", value, bits=16
    )


def test_the_index_table_holds_no_phone_or_name_in_plain_text(indexed):
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, bits, value FROM people_blindindexentry")
        rows = cursor.fetchall()
    assert len(rows) == 4  # FALCON and BIRCH: one phone and one name each
    dump = repr(rows).casefold()
    for secret in ("9005550123", "5550123", "555", "0123", "rustam", "testaev", "islam", "demoev"):
        assert secret not in dump
    for _kind, bits, value in rows:
        assert len(value) == 2 * -(-bits // 8)


def test_services_keep_the_index_current(cast):
    person = services.person_create(
        actor=cast.coordinator,
        identity=services.IdentityInput(
            legal_name="Anna Petrova", phones="+7 900 111-22-33", provided={"legal_name", "phones"}
        ),
    )
    assert BlindIndexEntry.objects.filter(person=person).count() == 2
    assert search(cast.coordinator, phone="89001112233") == [person.pseudonym]
    services.person_update(
        actor=cast.coordinator,
        person=person,
        identity=services.IdentityInput(phones="+7 900 999-88-77", provided={"phones"}),
    )
    assert search(cast.coordinator, phone="89001112233") == []
    assert search(cast.coordinator, phone="89009998877") == [person.pseudonym]
    assert search(cast.coordinator, name="Анна Петрова") == [person.pseudonym]


# --- Search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"phone": FALCON_PHONE},
        {"phone": "89005550123"},
        {"name": CYRILLIC_FALCON},
        {"name": FALCON_NAME},
    ],
)
def test_the_caseworker_finds_falcon(indexed, query):
    assert search(indexed.caseworker, **query) == ["FALCON"]


@pytest.mark.parametrize("role", ["outsider", "operator", "analyst", "admin"])
def test_roles_without_need_to_know_find_nothing(indexed, role):
    user = indexed.by_role()[role]
    assert search(user, phone=FALCON_PHONE) == []
    assert search(user, name=FALCON_NAME) == []


def test_the_lawyer_does_not_find_the_minor(indexed):
    assert search(indexed.lawyer, name=BIRCH_NAME) == []
    assert search(indexed.caseworker, name=BIRCH_NAME) == ["BIRCH"]  # the team lead


def test_a_bucket_neighbour_is_not_a_match(indexed):
    assert search(indexed.caseworker, phone="+7 900 555-01-24") == []
    assert search(indexed.caseworker, name="Rustam Testaev") == []


def test_a_search_is_audited_with_its_bucket_never_the_query(indexed):
    search(indexed.caseworker, phone=FALCON_PHONE)
    entry = AuditEntry.objects.get(action=services.IDENTITY_SEARCHED)
    assert entry.actor_id == indexed.caseworker.pk
    bits = blind_index.bits_in_use("phone")
    assert '"kind":"phone"' in entry.detail
    assert blind_index.bucket("phone", "+79005550123", bits[0]) in entry.detail
    assert str(indexed.falcon.pk) in entry.detail
    for secret in ("900", "555", "0123", "+7"):
        assert secret not in entry.detail.replace(str(indexed.falcon.pk), "")


def test_bad_input_is_refused(indexed):
    with pytest.raises(DomainError):
        selectors.person_search_identity(actor=indexed.caseworker)
    with pytest.raises(DomainError):
        selectors.person_search_identity(actor=indexed.caseworker, phone="1", name="x")
    with pytest.raises(DomainError):
        selectors.person_search_identity(actor=indexed.caseworker, phone="12")
    with pytest.raises(DomainError):
        selectors.person_search_identity(actor=indexed.caseworker, name="--")


def test_the_rate_limit_refuses_and_audits(indexed, settings):
    settings.IDENTITY_SEARCHES_PER_HOUR = 3
    with time_machine.travel("2030-01-01 10:00Z", tick=False):
        for _ in range(3):
            search(indexed.caseworker, phone=FALCON_PHONE)
        with pytest.raises(services.SearchRateLimitedError) as excinfo:
            search(indexed.caseworker, phone=FALCON_PHONE)
        assert excinfo.value.retry_after == 3601
        assert search(indexed.lawyer, phone=FALCON_PHONE) == ["FALCON"]  # per user
    assert AuditEntry.objects.filter(action=services.IDENTITY_SEARCH_REFUSED).count() == 1
    with time_machine.travel("2030-01-01 11:00:01Z", tick=False):
        assert search(indexed.caseworker, phone=FALCON_PHONE) == ["FALCON"]
