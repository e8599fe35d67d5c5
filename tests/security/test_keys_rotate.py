"""KEK rotation (refuge.security.services.keys_rotate and `refuge keys`)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from refuge.people.models import ProtectedPerson
from refuge.security import audit
from refuge.security.crypto import wrapped_key_version
from refuge.security.models import AuditEntry, DataKey, KeyRing
from refuge.security.services import keys_rotate, keys_status
from tests.factories import PersonFactory

PEOPLE = 5  # two data keys each (record and location): ten keys


class CrashError(Exception):
    pass


@pytest.fixture
def people(db: None) -> dict[str, str]:
    """Pseudonym -> legal name of a few people, their data keys on KEK v1."""
    names = {f"P{n}": f"Person Number{n} Testov" for n in range(PEOPLE)}
    for pseudonym, name in names.items():
        PersonFactory(pseudonym=pseudonym, legal_name=name, address=f"Flat {pseudonym}")
    return names


def _versions() -> list[int]:
    return sorted(DataKey.objects.values_list("kek_version", flat=True))


def _assert_readable(names: dict[str, str]) -> None:
    # Fresh instances: nothing cached from before the rotation.
    for person in ProtectedPerson.objects.all():
        assert person.legal_name == names[person.pseudonym]
        assert person.address == f"Flat {person.pseudonym}"


def _details(action: str) -> list[dict[str, int]]:
    return [json.loads(e.detail) for e in AuditEntry.objects.filter(action=action)]


def test_rotation_moves_every_key_to_the_new_version(people):
    assert _versions() == [1] * 2 * PEOPLE
    result = keys_rotate(batch_size=3)
    assert (result.from_version, result.kek_version, result.resumed) == (1, 2, False)
    assert result.rewrapped == 2 * PEOPLE
    assert KeyRing.objects.get().current_kek_version == 2
    assert KeyRing.objects.get().rotated_at is not None
    assert _versions() == [2] * 2 * PEOPLE
    # The header every unwrap reads agrees with the column.
    assert {wrapped_key_version(bytes(k.wrapped)) for k in DataKey.objects.all()} == {2}
    _assert_readable(people)
    assert keys_status().outdated_keys == 0


def test_new_records_use_the_new_version(people):
    keys_rotate()
    person = PersonFactory(pseudonym="LATE", legal_name="Late Testov")
    assert DataKey.objects.get(pk=person.data_key_id).kek_version == 2
    assert ProtectedPerson.objects.get(pseudonym="LATE").legal_name == "Late Testov"


def test_rotation_is_audited_with_counts(people):
    keys_rotate(batch_size=4)
    assert _details("refuge.security.keys.rotation_started") == [
        {"from_version": 1, "to_version": 2, "keys": 2 * PEOPLE}
    ]
    assert _details("refuge.security.keys.rotation_finished") == [
        {"kek_version": 2, "rewrapped": 2 * PEOPLE, "failed": 0, "remaining": 0}
    ]
    assert audit.verify().ok


def test_crash_mid_rotation_is_resumed_without_a_second_bump(people):
    def crash_after_first_batch(done: int, total: int) -> None:
        raise CrashError

    with pytest.raises(CrashError):
        keys_rotate(batch_size=3, progress=crash_after_first_batch)
    assert KeyRing.objects.get().current_kek_version == 2
    assert _versions() == [1] * (2 * PEOPLE - 3) + [2] * 3
    assert keys_status().rotation_unfinished
    _assert_readable(people)  # half old, half new: every record still reads

    seen: list[tuple[int, int]] = []
    result = keys_rotate(batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert (result.kek_version, result.resumed, result.rewrapped) == (2, True, 2 * PEOPLE - 3)
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert KeyRing.objects.get().current_kek_version == 2
    assert _versions() == [2] * 2 * PEOPLE
    _assert_readable(people)

    assert len(_details("refuge.security.keys.rotation_started")) == 1
    assert _details("refuge.security.keys.rotation_resumed") == [
        {"kek_version": 2, "remaining": 2 * PEOPLE - 3}
    ]
    assert _details("refuge.security.keys.rotation_finished") == [
        {"kek_version": 2, "rewrapped": 2 * PEOPLE - 3, "failed": 0, "remaining": 0}
    ]


def test_finished_rotation_is_followed_by_a_new_one(people):
    keys_rotate()
    result = keys_rotate()
    assert (result.from_version, result.kek_version, result.resumed) == (2, 3, False)
    assert _versions() == [3] * 2 * PEOPLE
    _assert_readable(people)


def test_unreadable_key_is_left_behind_and_reported(people):
    broken = DataKey.objects.order_by("id").first()
    assert broken is not None
    tampered = bytearray(broken.wrapped)
    tampered[-1] ^= 0x01  # one flipped bit in the tag
    DataKey.objects.filter(pk=broken.pk).update(wrapped=bytes(tampered))
    result = keys_rotate(batch_size=3)
    assert (result.rewrapped, result.failed) == (2 * PEOPLE - 1, 1)
    assert DataKey.objects.get(pk=broken.pk).kek_version == 1
    assert keys_status().outdated_keys == 1
    failed = AuditEntry.objects.get(action="refuge.security.keys.rewrap_failed")
    assert failed.object_id == str(broken.pk)
    assert AuditEntry.objects.filter(action="refuge.security.keys.rotation_incomplete").exists()
    assert not AuditEntry.objects.filter(action="refuge.security.keys.rotation_finished").exists()


def test_keys_commands(people, capsys):
    call_command("keys", "status")
    out = capsys.readouterr().out
    assert "current KEK version: v1" in out
    assert "on older versions: 0" in out

    call_command("keys", "rotate", "--batch-size", "4")
    out = capsys.readouterr().out
    assert "Rotated from KEK v1 to v2." in out
    assert f"re-wrapped {2 * PEOPLE} of {2 * PEOPLE} data keys" in out

    call_command("keys", "status")
    assert "current KEK version: v2" in capsys.readouterr().out


def test_rotate_command_fails_when_a_key_cannot_be_rewrapped(people):
    broken = DataKey.objects.order_by("id").first()
    assert broken is not None
    DataKey.objects.filter(pk=broken.pk).update(wrapped=b"\x01\x01\x00\x01" + b"\x00" * 40)
    with pytest.raises(CommandError, match="1 data keys could not be unwrapped"):
        call_command("keys", "rotate")
