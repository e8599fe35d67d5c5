import pytest

from refuge.security.crypto import (
    DecryptionError,
    FieldContext,
    KeyContext,
    LocalKeyCrypto,
    pad,
    unpad,
)

CTX = FieldContext(table="people_protectedperson", column="legal_name_ct", row_id="row-1")


@pytest.fixture
def crypto() -> LocalKeyCrypto:
    return LocalKeyCrypto(b"k" * 32)


def test_field_roundtrip(crypto):
    dek, _wrapped = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    ct = crypto.encrypt_field(dek, "Рустам", CTX)
    assert crypto.decrypt_field(dek, ct, CTX) == "Рустам"


def test_ciphertext_does_not_reveal_name_length(crypto):
    dek, _ = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    assert len(crypto.encrypt_field(dek, "Al", CTX)) == len(
        crypto.encrypt_field(dek, "Alexandr Petrovich", CTX)
    )


def test_ciphertext_bound_to_row(crypto):
    dek, _ = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    ct = crypto.encrypt_field(dek, "secret", CTX)
    other = FieldContext(table=CTX.table, column=CTX.column, row_id="row-2")
    with pytest.raises(DecryptionError):
        crypto.decrypt_field(dek, ct, other)


def test_ciphertext_bound_to_column(crypto):
    dek, _ = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    ct = crypto.encrypt_field(dek, "secret", CTX)
    other = FieldContext(table=CTX.table, column="notes_ct", row_id=CTX.row_id)
    with pytest.raises(DecryptionError):
        crypto.decrypt_field(dek, ct, other)


def test_flipped_bit_fails(crypto):
    dek, _ = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    ct = bytearray(crypto.encrypt_field(dek, "secret", CTX))
    ct[-1] ^= 1
    with pytest.raises(DecryptionError):
        crypto.decrypt_field(dek, bytes(ct), CTX)


def test_wrapped_key_bound_to_its_id(crypto):
    _dek, wrapped = crypto.new_data_key(KeyContext("key-1", "record"), kek_version=1)
    with pytest.raises(DecryptionError):
        crypto.unwrap_key(wrapped, KeyContext("key-2", "record"))


def test_rewrap_moves_key_to_new_kek(crypto):
    ctx = KeyContext("key-1", "record")
    dek, wrapped = crypto.new_data_key(ctx, kek_version=1)
    rewrapped = crypto.rewrap_key(wrapped, ctx, kek_version=2)
    assert rewrapped != wrapped
    assert crypto.unwrap_key(rewrapped, ctx) == dek


def test_other_master_key_cannot_unwrap(crypto):
    ctx = KeyContext("key-1", "record")
    _dek, wrapped = crypto.new_data_key(ctx, kek_version=1)
    with pytest.raises(DecryptionError):
        LocalKeyCrypto(b"x" * 32).unwrap_key(wrapped, ctx)


@pytest.mark.parametrize("size", [0, 1, 31, 32, 1000, 5000])
def test_padding_roundtrip(size):
    data = b"a" * size
    assert unpad(pad(data)) == data


def test_stream_roundtrip_in_chunks(crypto):
    dek, _ = crypto.new_data_key(KeyContext("file-1", "record"), kek_version=1)
    payload = [b"x" * 700_000, b"y" * 900_000, b"z" * 10]
    ct = list(crypto.encrypt_stream(dek, payload, aad=b"file-1"))
    assert b"".join(crypto.decrypt_stream(dek, ct, aad=b"file-1")) == b"".join(payload)


def test_truncated_stream_fails(crypto):
    dek, _ = crypto.new_data_key(KeyContext("file-1", "record"), kek_version=1)
    ct = list(crypto.encrypt_stream(dek, [b"x" * 2_500_000], aad=b"f"))
    with pytest.raises(DecryptionError):
        b"".join(crypto.decrypt_stream(dek, ct[:-1], aad=b"f"))


def test_blind_index_is_keyed_and_truncated(crypto):
    a = crypto.blind_index("phone", "+79005550123", bits=12)
    assert len(a) == 2
    assert a[1] & 0x0F == 0
    assert LocalKeyCrypto(b"x" * 32).blind_index(
        "phone", "+79005550123", bits=256
    ) != crypto.blind_index("phone", "+79005550123", bits=256)


def test_derived_subkeys_are_derived_once_per_crypto_object(monkeypatch):
    crypto = LocalKeyCrypto(b"k" * 32)
    derived: list[str] = []
    real = LocalKeyCrypto._derive

    def counting(self: LocalKeyCrypto, info: str) -> bytes:
        derived.append(info)
        return real(self, info)

    monkeypatch.setattr(LocalKeyCrypto, "_derive", counting)
    phones = [f"+7900000000{n}" for n in range(3)]
    first = [crypto.blind_index("people.phone", phone, bits=32) for phone in phones]
    crypto.intake_public_key()
    crypto.intake_public_key()
    assert sorted(derived) == ["refuge/bidx/people.phone", "refuge/intake-box/v1"]
    # Kept subkeys give the answers a fresh derivation gives.
    fresh = LocalKeyCrypto(b"k" * 32)
    assert first == [
        fresh.blind_index("people.phone", f"+7900000000{n}", bits=32) for n in range(3)
    ]
    assert crypto.intake_public_key() == fresh.intake_public_key()


def test_blind_index_domains_get_keys_of_their_own():
    crypto = LocalKeyCrypto(b"k" * 32)
    phone = crypto.blind_index("people.phone", "same", bits=64)
    name = crypto.blind_index("people.name", "same", bits=64)
    assert phone != name
    assert crypto.blind_index("people.phone", "same", bits=64) == phone
