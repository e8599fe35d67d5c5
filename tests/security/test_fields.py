import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refuge.core import rows
from refuge.people.models import ProtectedPerson
from refuge.security.crypto import DecryptionError, wrapped_key_version
from refuge.security.fields import new_data_key, new_data_keys, open_data_key
from refuge.security.models import AuditEntry, DataKey, KeyRing
from refuge.security.sealing import SealedError
from tests.conftest import FALCON_NAME
from tests.factories import PersonFactory
from tests.security import sealed_instance as sealed_support

sealed_instance = sealed_support.sealed_instance  # the fixture


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
    from refuge.security.keystore import KeyFileError
    from refuge.security.provider import get_crypto

    PersonFactory(legal_name="Someone")
    settings.KEY_FILE = tmp_path / "elsewhere" / "master.key"
    get_crypto.cache_clear()
    try:
        with pytest.raises(KeyFileError, match="does not exist"):
            get_crypto()
        assert not settings.KEY_FILE.exists()
    finally:
        get_crypto.cache_clear()


@pytest.mark.django_db
def test_a_new_records_keys_are_one_statement_once_the_kek_version_is_known():
    PersonFactory()  # the process learns the current KEK version
    with CaptureQueriesContext(connection) as queries:
        PersonFactory(legal_name="Someone", address="Somewhere 1")
    key_queries = [q["sql"] for q in queries if "security_" in q["sql"]]
    assert len(key_queries) == 1  # both keys, checked against the key ring in the same INSERT
    assert key_queries[0].startswith('INSERT INTO "security_datakey"')


@pytest.mark.django_db
def test_more_new_keys_than_one_statement_carries_are_all_written():
    count = 2 * rows.rows_per_statement(connection, 6) + 1  # five columns and the version
    keys = new_data_keys("record", count)
    assert DataKey.objects.filter(pk__in=[key.pk for key in keys]).count() == count
    assert all(len(open_data_key(key)) == 32 for key in keys[:: count // 3])


@pytest.mark.django_db
def test_new_keys_are_numbered_in_time_order():
    (first,) = new_data_keys("record", 1)
    time.sleep(0.002)  # within a millisecond, ids are random
    (second,) = new_data_keys("record", 1)
    assert first.pk.version == 7
    assert str(first.pk) < str(second.pk)


@pytest.mark.django_db
def test_new_keys_are_wrapped_under_a_kek_version_changed_by_another_process():
    PersonFactory()  # the process last saw the version before the rotation below
    KeyRing.objects.update_or_create(id=1, defaults={"current_kek_version": 3})

    person = PersonFactory(legal_name="Someone", address="Somewhere 1")

    keys = DataKey.objects.filter(pk__in=[person.data_key_id, person.location_key_id])
    assert sorted(keys.values_list("purpose", "kek_version")) == [("location", 3), ("record", 3)]
    assert all(wrapped_key_version(bytes(key.wrapped)) == 3 for key in keys)
    fresh = ProtectedPerson.objects.get(pk=person.pk)
    assert (fresh.legal_name, fresh.address) == ("Someone", "Somewhere 1")


@pytest.mark.django_db
def test_a_record_read_on_its_own_reads_all_its_key_rows_in_one_query():
    person = PersonFactory(legal_name="Someone", address="Somewhere 1")
    fresh = ProtectedPerson.objects.get(pk=person.pk)
    with CaptureQueriesContext(connection) as queries:
        assert (fresh.legal_name, fresh.address) == ("Someone", "Somewhere 1")
    assert len(queries) == 1  # the record key and the location key together
    assert '"security_datakey"' in queries[0]["sql"]


@pytest.mark.django_db
def test_a_record_read_with_its_keys_joined_reads_no_key_row_again():
    person = PersonFactory(legal_name="Someone", address="Somewhere 1")
    joined = ProtectedPerson.objects.select_related("data_key", "location_key").get(pk=person.pk)
    with CaptureQueriesContext(connection) as queries:
        assert (joined.legal_name, joined.address) == ("Someone", "Somewhere 1")
    assert len(queries) == 0


@pytest.mark.django_db
def test_a_rotation_in_another_process_is_seen_by_the_next_new_key():
    first = PersonFactory()
    # As a rotation started elsewhere would leave it: nothing in this process is told.
    KeyRing.objects.filter(id=1).update(current_kek_version=2)
    second = PersonFactory()
    assert DataKey.objects.get(pk=first.data_key_id).kek_version == 1
    assert DataKey.objects.get(pk=second.data_key_id).kek_version == 2


@pytest.mark.django_db
def test_a_record_given_another_key_is_not_read_with_the_old_one():
    person = PersonFactory(legal_name="Alpha Person")
    assert person.legal_name == "Alpha Person"  # key unwrapped and value kept on the instance
    other_key, _dek = new_data_key(DataKey.Purpose.RECORD)
    person.data_key = other_key
    with pytest.raises(DecryptionError):
        _ = person.legal_name


@pytest.mark.django_db
def test_a_value_moved_to_another_row_on_the_same_instance_is_checked_again():
    a = PersonFactory(legal_name="Alpha Person")
    b = PersonFactory(legal_name="Beta Person")
    assert a.legal_name == "Alpha Person"
    a.pk = b.pk  # same ciphertext and key, other row id: the associated data no longer match
    with pytest.raises(DecryptionError):
        _ = a.legal_name


@pytest.mark.django_db
def test_a_new_key_on_the_instance_encrypts_new_values_under_it():
    person = PersonFactory(legal_name="Alpha Person")
    other_key, _dek = new_data_key(DataKey.Purpose.RECORD)
    person.data_key = other_key
    person.legal_name = "Gamma Person"
    person.save()
    assert ProtectedPerson.objects.get(pk=person.pk).legal_name == "Gamma Person"


@pytest.mark.django_db
def test_seal_now_leaves_no_unwrapped_key_in_the_process(cast, sealed_instance):
    # Keys are kept per model instance only: a record read before "seal now" does not make the
    # same record readable afterwards through a new instance (the next request).
    sealed_instance.unseal()
    assert ProtectedPerson.objects.get(pk=cast.falcon.pk).legal_name == FALCON_NAME
    sealed_instance.seal()
    with pytest.raises(SealedError):
        _ = ProtectedPerson.objects.get(pk=cast.falcon.pk).legal_name
