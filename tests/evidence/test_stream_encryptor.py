"""The push-style stream encryptor writes exactly what encrypt_stream writes (same format), so
decrypt_stream reads what an upload stored."""

from __future__ import annotations

import os

import pytest

from refuge.security.crypto import STREAM_CHUNK_BYTES, DecryptionError, LocalKeyCrypto

DEK = b"d" * 32


@pytest.fixture
def crypto():
    return LocalKeyCrypto(os.urandom(32))


def _push_all(crypto, data: bytes, piece: int, aad: bytes = b"file") -> bytes:
    encryptor = crypto.stream_encryptor(DEK, aad=aad)
    out = [encryptor.header]
    out.extend(encryptor.push(data[o : o + piece]) for o in range(0, len(data), piece))
    out.append(encryptor.finish())
    return b"".join(out)


@pytest.mark.parametrize(
    "size", [0, 1, STREAM_CHUNK_BYTES - 1, STREAM_CHUNK_BYTES, 2 * STREAM_CHUNK_BYTES + 7]
)
def test_what_is_pushed_decrypts(crypto, size):
    data = os.urandom(size)
    ciphertext = _push_all(crypto, data, 65_536)
    assert b"".join(crypto.decrypt_stream(DEK, [ciphertext], aad=b"file")) == data


@pytest.mark.parametrize("size", [0, STREAM_CHUNK_BYTES, 2 * STREAM_CHUNK_BYTES + 7])
def test_it_has_the_length_of_encrypt_stream(crypto, size):
    data = os.urandom(size)
    reference = b"".join(crypto.encrypt_stream(DEK, [data], aad=b"file"))
    assert len(_push_all(crypto, data, 100_000)) == len(reference)


def test_the_associated_data_binds_the_stream(crypto):
    ciphertext = _push_all(crypto, b"evidence", 4)
    with pytest.raises(DecryptionError):
        b"".join(crypto.decrypt_stream(DEK, [ciphertext], aad=b"another file"))


def test_a_finished_stream_takes_no_more_data(crypto):
    encryptor = crypto.stream_encryptor(DEK, aad=b"")
    encryptor.finish()
    with pytest.raises(ValueError):
        encryptor.push(b"more")


def test_at_most_one_chunk_is_held_back(crypto):
    encryptor = crypto.stream_encryptor(DEK, aad=b"")
    emitted = encryptor.push(os.urandom(3 * STREAM_CHUNK_BYTES + 1))
    assert len(emitted) > 2 * STREAM_CHUNK_BYTES
