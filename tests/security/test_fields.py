import pytest
from django.db import connection

from refuge.people.models import ProtectedPerson
from refuge.security.crypto import DecryptionError
from refuge.security.models import AuditEntry
from tests.factories import PersonFactory


@pytest.mark.django_db
def test_value_is_encrypted_in_the_column():
    person = PersonFactory(legal_name="Rustam Testaev")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT legal_name_ct FROM people_protectedperson WHERE id = %s",
            [person.pk.hex if connection.vendor == "sqlite" else person.pk],
        )
        (stored,) = cursor.fetchone()
    assert b"Rustam" not in bytes(stored)
    assert ProtectedPerson.objects.get(pk=person.pk).legal_name == "Rustam Testaev"


@pytest.mark.django_db
def test_ciphertext_copied_to_another_row_fails_to_decrypt_with_clear_error():
    a = PersonFactory(legal_name="Alpha Person")
    b = PersonFactory(legal_name="Beta Person")
    ProtectedPerson.objects.filter(pk=b.pk).update(legal_name_ct=a.legal_name_ct)
    fresh = ProtectedPerson.objects.get(pk=b.pk)
    with pytest.raises(DecryptionError, match=r"people_protectedperson\.legal_name_ct of row"):
        _ = fresh.legal_name
    assert AuditEntry.objects.filter(
        action="refuge.security.decryption.failed", object_id=str(b.pk)
    ).exists()


@pytest.mark.django_db
def test_ciphertext_copied_to_another_column_fails():
    a = PersonFactory(legal_name="Alpha Person", notes="x")
    ProtectedPerson.objects.filter(pk=a.pk).update(notes_ct=a.legal_name_ct)
    with pytest.raises(DecryptionError):
        _ = ProtectedPerson.objects.get(pk=a.pk).notes


@pytest.mark.django_db
def test_failed_decryption_never_returns_stored_bytes():
    a = PersonFactory(legal_name="Alpha Person")
    ProtectedPerson.objects.filter(pk=a.pk).update(legal_name_ct=b"not a ciphertext at all")
    with pytest.raises(DecryptionError):
        _ = ProtectedPerson.objects.get(pk=a.pk).legal_name


@pytest.mark.django_db
def test_location_uses_its_own_key():
    person = PersonFactory(address="Somewhere 1")
    assert person.location_key_id != person.data_key_id
    assert ProtectedPerson.objects.get(pk=person.pk).address == "Somewhere 1"


@pytest.mark.django_db
def test_empty_values_are_stored_as_null():
    person = PersonFactory(notes="")
    assert ProtectedPerson.objects.get(pk=person.pk).notes_ct is None


@pytest.mark.django_db
def test_a_missing_key_file_is_not_replaced_once_data_exists(settings, tmp_path):
    from refuge.security.crypto import get_crypto
    from refuge.security.keystore import KeyFileError

    PersonFactory(legal_name="Someone")
    settings.KEY_FILE = tmp_path / "elsewhere" / "master.key"
    get_crypto.cache_clear()
    try:
        with pytest.raises(KeyFileError, match="does not exist"):
            get_crypto()
        assert not settings.KEY_FILE.exists()
    finally:
        get_crypto.cache_clear()
