"""Every cryptographic operation Refuge performs goes through this small interface.

Models and services never touch a primitive or the master key directly: they ask the configured
`Crypto` for field encryption, key wrapping, blind indexes and streams. A later issue moves the
master key into a separate key-holding process by providing another implementation of the same
protocol; nothing else changes.

Primitives come from maintained libraries only: libsodium through PyNaCl (XChaCha20-Poly1305,
secretstream, keyed BLAKE2b) and HKDF-SHA256 from `cryptography`.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from nacl import bindings
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.utils import random as random_bytes

from refuge.security.keystore import load_key_file

FORMAT_VERSION = 1
ALG_XCHACHA20_POLY1305 = 1
NONCE_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
DEK_BYTES = 32
_FIELD_HEADER = bytes([FORMAT_VERSION, ALG_XCHACHA20_POLY1305])
_WRAP_HEADER_FORMAT = ">BBH"  # version, algorithm, KEK version
_WRAP_HEADER_BYTES = struct.calcsize(_WRAP_HEADER_FORMAT)
STREAM_CHUNK_BYTES = 1 << 20
_MAX_INDEX_BITS = 256


class DecryptionError(Exception):
    """A ciphertext did not authenticate: wrong key, wrong row/column, or tampered bytes.

    Raised always; never answered with the stored bytes (the Fernet field packages' failure)."""


@dataclass(frozen=True)
class FieldContext:
    """What a field ciphertext is bound to (its associated data)."""

    table: str
    column: str
    row_id: str

    def aad(self) -> bytes:
        return f"refuge/field/v{FORMAT_VERSION}|{self.table}|{self.column}|{self.row_id}".encode()

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of row {self.row_id}"


@dataclass(frozen=True)
class KeyContext:
    """What a wrapped data key is bound to."""

    key_id: str
    purpose: str

    def aad(self, kek_version: int) -> bytes:
        return (
            f"refuge/dek/v{FORMAT_VERSION}|{self.key_id}|{self.purpose}|kek={kek_version}".encode()
        )


# Ciphertext length reveals the plaintext's length bucket only, never its exact length.
_BUCKETS = (32, 64, 128, 256, 512, 1024, 2048, 4096)


def pad(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding (0x80 then zeros) up to the next length bucket."""
    needed = len(data) + 1
    size = next((b for b in _BUCKETS if b >= needed), None)
    if size is None:
        size = -(-needed // _BUCKETS[-1]) * _BUCKETS[-1]
    return data + b"\x80" + b"\x00" * (size - needed)


def unpad(padded: bytes) -> bytes:
    end = padded.rfind(b"\x80")
    if end < 0 or padded[end + 1 :].strip(b"\x00"):
        raise DecryptionError("padding is malformed")
    return padded[:end]


class Crypto(Protocol):
    """The interface. Keys other than data keys never leave an implementation."""

    def new_data_key(self, context: KeyContext, *, kek_version: int) -> tuple[bytes, bytes]:
        """Return (plaintext data key, wrapped data key)."""
        ...

    def unwrap_key(self, wrapped: bytes, context: KeyContext) -> bytes: ...

    def rewrap_key(self, wrapped: bytes, context: KeyContext, *, kek_version: int) -> bytes: ...

    def encrypt_field(self, dek: bytes, plaintext: str, context: FieldContext) -> bytes: ...

    def decrypt_field(self, dek: bytes, ciphertext: bytes, context: FieldContext) -> str: ...

    def blind_index(self, domain: str, value: str, *, bits: int) -> bytes: ...

    def encrypt_stream(
        self, dek: bytes, chunks: Iterable[bytes], *, aad: bytes
    ) -> Iterator[bytes]: ...

    def decrypt_stream(
        self, dek: bytes, chunks: Iterable[bytes], *, aad: bytes
    ) -> Iterator[bytes]: ...


def wrapped_key_version(wrapped: bytes) -> int:
    if len(wrapped) < _WRAP_HEADER_BYTES:
        raise DecryptionError("wrapped key is truncated")
    return int(struct.unpack_from(_WRAP_HEADER_FORMAT, wrapped)[2])


def _aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    nonce = random_bytes(NONCE_BYTES)
    return nonce, bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


def _aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return bytes(
            bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
        )
    except (CryptoError, ValueError, TypeError):
        raise DecryptionError("ciphertext does not authenticate") from None


class LocalKeyCrypto:
    """Master key held in this process, loaded from the key file."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != DEK_BYTES:
            raise ValueError("master key must be 32 bytes")
        self._master = master_key
        self._keks: dict[int, bytes] = {}

    def _derive(self, info: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode())
        return hkdf.derive(self._master)

    def _kek(self, version: int) -> bytes:
        if version < 1:
            raise DecryptionError("key-encryption key version is invalid")
        if version not in self._keks:
            self._keks[version] = self._derive(f"refuge/kek/v{version}")
        return self._keks[version]

    def _wrap(self, dek: bytes, context: KeyContext, kek_version: int) -> bytes:
        nonce, ct = _aead_encrypt(self._kek(kek_version), dek, context.aad(kek_version))
        header = struct.pack(
            _WRAP_HEADER_FORMAT, FORMAT_VERSION, ALG_XCHACHA20_POLY1305, kek_version
        )
        return header + nonce + ct

    def new_data_key(self, context: KeyContext, *, kek_version: int) -> tuple[bytes, bytes]:
        dek = random_bytes(DEK_BYTES)
        return dek, self._wrap(dek, context, kek_version)

    def unwrap_key(self, wrapped: bytes, context: KeyContext) -> bytes:
        version, alg, kek_version = struct.unpack_from(_WRAP_HEADER_FORMAT, wrapped.ljust(4, b"\0"))
        if version != FORMAT_VERSION or alg != ALG_XCHACHA20_POLY1305:
            raise DecryptionError("wrapped key has an unknown format")
        body = wrapped[_WRAP_HEADER_BYTES:]
        nonce, ct = body[:NONCE_BYTES], body[NONCE_BYTES:]
        return _aead_decrypt(self._kek(kek_version), nonce, ct, context.aad(kek_version))

    def rewrap_key(self, wrapped: bytes, context: KeyContext, *, kek_version: int) -> bytes:
        return self._wrap(self.unwrap_key(wrapped, context), context, kek_version)

    def encrypt_field(self, dek: bytes, plaintext: str, context: FieldContext) -> bytes:
        nonce, ct = _aead_encrypt(dek, pad(plaintext.encode("utf-8")), context.aad())
        return _FIELD_HEADER + nonce + ct

    def decrypt_field(self, dek: bytes, ciphertext: bytes, context: FieldContext) -> str:
        if ciphertext[:2] != _FIELD_HEADER:
            raise DecryptionError("ciphertext has an unknown format")
        nonce = ciphertext[2 : 2 + NONCE_BYTES]
        padded = _aead_decrypt(dek, nonce, ciphertext[2 + NONCE_BYTES :], context.aad())
        try:
            return unpad(padded).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("plaintext is not text") from None

    def blind_index(self, domain: str, value: str, *, bits: int) -> bytes:
        if not 1 <= bits <= _MAX_INDEX_BITS:
            raise ValueError("bits must be between 1 and 256")
        key = self._derive(f"refuge/bidx/{domain}")
        digest = blake2b(value.encode("utf-8"), key=key, digest_size=32, encoder=RawEncoder)
        whole, rest = divmod(bits, 8)
        out = bytearray(digest[: whole + (1 if rest else 0)])
        if rest:
            out[-1] &= (0xFF << (8 - rest)) & 0xFF
        return bytes(out)

    def encrypt_stream(self, dek: bytes, chunks: Iterable[bytes], *, aad: bytes) -> Iterator[bytes]:
        state = bindings.crypto_secretstream_xchacha20poly1305_state()
        header = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, dek)
        yield header
        tag_message = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        tag_final = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        pending: bytes | None = None
        for chunk in _rechunk(chunks):
            if pending is not None:
                yield bindings.crypto_secretstream_xchacha20poly1305_push(
                    state, pending, aad, tag_message
                )
                aad = b""
            pending = chunk
        yield bindings.crypto_secretstream_xchacha20poly1305_push(
            state, pending or b"", aad, tag_final
        )

    def decrypt_stream(self, dek: bytes, chunks: Iterable[bytes], *, aad: bytes) -> Iterator[bytes]:
        abytes = bindings.crypto_secretstream_xchacha20poly1305_ABYTES
        header_bytes = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
        tag_final = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        iterator = iter(chunks)
        head = bytearray()
        for chunk in iterator:
            head.extend(chunk)
            if len(head) >= header_bytes:
                break
        if len(head) < header_bytes:
            raise DecryptionError("stream header is missing")
        data = itertools.chain([bytes(head[header_bytes:])], iterator)
        buffer = bytes(head[:header_bytes])
        state = bindings.crypto_secretstream_xchacha20poly1305_state()
        try:
            bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, buffer, dek)
            finished = False
            for block in _blocks(data, STREAM_CHUNK_BYTES + abytes):
                if finished:
                    raise DecryptionError("stream has data after its final chunk")
                message, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(
                    state, block, aad
                )
                aad = b""
                finished = tag == tag_final
                yield message
        except (CryptoError, ValueError, TypeError):
            raise DecryptionError("stream does not authenticate") from None
        if not finished:
            raise DecryptionError("stream is truncated")


def _rechunk(chunks: Iterable[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) >= STREAM_CHUNK_BYTES:
            yield bytes(buffer[:STREAM_CHUNK_BYTES])
            del buffer[:STREAM_CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


def _blocks(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer.extend(chunk)
        while len(buffer) > size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


@cache
def get_crypto() -> Crypto:
    """The configured implementation; tests and `keys` commands may reset it with cache_clear.

    The key file is created on first run only: once data keys exist, a missing key file means a
    wrong REFUGE_KEY_FILE or a lost key, and a fresh key would make every record unreadable."""
    from refuge.security.models import DataKey  # noqa: PLC0415 - models import this module's users

    create = not settings.KEY_FILE.exists() and not DataKey.objects.exists()
    return LocalKeyCrypto(load_key_file(settings.KEY_FILE, create=create))
