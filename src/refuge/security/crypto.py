"""Every cryptographic operation Refuge performs goes through this small interface.

Models and services never touch a primitive or the master key directly: they ask the configured
`Crypto` (refuge.security.provider.get_crypto) for field encryption, key wrapping, blind indexes
and streams. In sealed mode that is keyd's client (refuge.security.keyd.client.KeydCrypto); this
module knows neither it nor Django, so keyd, sealing and the client all build on it, never the
other way round (an import-linter contract checks it).

Primitives come from maintained libraries only: libsodium through PyNaCl (XChaCha20-Poly1305,
secretstream, keyed BLAKE2b) and HKDF-SHA256 from `cryptography`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl import bindings
from nacl.encoding import RawEncoder
from nacl.exceptions import CryptoError
from nacl.hash import blake2b
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.utils import random as random_bytes

FORMAT_VERSION = 1
ALG_XCHACHA20_POLY1305 = 1
# A data key created while sealed: a libsodium sealed box to the intake public key (X25519),
# which keyd derives from the root key. Anyone may wrap; only the unsealed keyd can unwrap.
ALG_INTAKE_BOX = 2
INTAKE_KEK_VERSION = 0
INTAKE_BOX_INFO = "refuge/intake-box/v1"
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

    def stream_encryptor(self, dek: bytes, *, aad: bytes) -> StreamEncryptor:
        """A push-style encrypt_stream (same format) for data that arrives in pieces."""
        ...


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


class EnvelopeCrypto:
    """The operations done with a plaintext data key: the same in every process."""

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

    def stream_encryptor(self, dek: bytes, *, aad: bytes) -> StreamEncryptor:
        return StreamEncryptor(dek, aad=aad)


class StreamEncryptor:
    """encrypt_stream turned around: the caller pushes plaintext as it arrives (an upload
    handler cannot be iterated) and gets ciphertext back. The output is byte-compatible with
    encrypt_stream, so decrypt_stream reads it: header, then 1 MiB messages, the last one tagged
    final (an empty final message for empty input); `aad` goes with the first message only.
    At most one chunk of plaintext is buffered."""

    def __init__(self, dek: bytes, *, aad: bytes) -> None:
        self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
        self.header = bindings.crypto_secretstream_xchacha20poly1305_init_push(self._state, dek)
        self._aad = aad
        self._buffer = bytearray()
        self._finished = False

    def _seal(self, message: bytes, tag: int) -> bytes:
        block = bindings.crypto_secretstream_xchacha20poly1305_push(
            self._state, message, self._aad, tag
        )
        self._aad = b""
        return bytes(block)

    def push(self, data: bytes) -> bytes:
        """Encrypt what fills whole chunks; keep the rest (and always the last chunk, which may
        turn out to be the final one)."""
        if self._finished:
            raise ValueError("the stream is already finished")
        self._buffer.extend(data)
        out = bytearray()
        tag = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        while len(self._buffer) > STREAM_CHUNK_BYTES:
            out += self._seal(bytes(self._buffer[:STREAM_CHUNK_BYTES]), tag)
            del self._buffer[:STREAM_CHUNK_BYTES]
        return bytes(out)

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("the stream is already finished")
        self._finished = True
        block = self._seal(
            bytes(self._buffer), bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        )
        self._buffer.clear()
        return block


class LocalKeyCrypto(EnvelopeCrypto):
    """Master key held in this process, loaded from the key file."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != DEK_BYTES:
            raise ValueError("master key must be 32 bytes")
        self._master = master_key
        # Subkeys derived from the master key are kept for this object's life: in keyd that ends
        # with "seal now", which drops the object (refuge.security.keyd.server.KeyDaemon.seal).
        self._keks: dict[int, bytes] = {}
        self._index_keys: dict[str, bytes] = {}
        self._intake_key: PrivateKey | None = None

    def _derive(self, info: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode())
        return hkdf.derive(self._master)

    def intake_private_key(self) -> PrivateKey:
        if self._intake_key is None:
            self._intake_key = PrivateKey(self._derive(INTAKE_BOX_INFO))
        return self._intake_key

    def intake_public_key(self) -> bytes:
        return bytes(self.intake_private_key().public_key)

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
        if version == FORMAT_VERSION and alg == ALG_INTAKE_BOX:
            return open_intake_box(self.intake_private_key(), wrapped, context)
        if version != FORMAT_VERSION or alg != ALG_XCHACHA20_POLY1305:
            raise DecryptionError("wrapped key has an unknown format")
        body = wrapped[_WRAP_HEADER_BYTES:]
        nonce, ct = body[:NONCE_BYTES], body[NONCE_BYTES:]
        return _aead_decrypt(self._kek(kek_version), nonce, ct, context.aad(kek_version))

    def rewrap_key(self, wrapped: bytes, context: KeyContext, *, kek_version: int) -> bytes:
        return self._wrap(self.unwrap_key(wrapped, context), context, kek_version)

    def blind_index(self, domain: str, value: str, *, bits: int) -> bytes:
        if not 1 <= bits <= _MAX_INDEX_BITS:
            raise ValueError("bits must be between 1 and 256")
        key = self._index_keys.get(domain)
        if key is None:
            key = self._index_keys[domain] = self._derive(f"refuge/bidx/{domain}")
        digest = blake2b(value.encode("utf-8"), key=key, digest_size=32, encoder=RawEncoder)
        whole, rest = divmod(bits, 8)
        out = bytearray(digest[: whole + (1 if rest else 0)])
        if rest:
            out[-1] &= (0xFF << (8 - rest)) & 0xFF
        return bytes(out)


def seal_to_intake_box(public_key: bytes, context: KeyContext) -> tuple[bytes, bytes]:
    """A new data key wrapped for the intake key: (plaintext data key, wrapped data key).

    The sealed plaintext carries a hash of the key's context, checked on opening, so a wrapped
    key moved to another record does not open there (a sealed box has no associated data)."""
    dek = random_bytes(DEK_BYTES)
    box = SealedBox(PublicKey(public_key)).encrypt(dek + _context_hash(context))
    header = struct.pack(_WRAP_HEADER_FORMAT, FORMAT_VERSION, ALG_INTAKE_BOX, INTAKE_KEK_VERSION)
    return dek, header + bytes(box)


def open_intake_box(private_key: PrivateKey, wrapped: bytes, context: KeyContext) -> bytes:
    try:
        plain = SealedBox(private_key).decrypt(wrapped[_WRAP_HEADER_BYTES:])
    except (CryptoError, ValueError, TypeError):
        raise DecryptionError("wrapped key does not authenticate") from None
    dek, binding = plain[:DEK_BYTES], plain[DEK_BYTES:]
    if len(dek) != DEK_BYTES or not hmac.compare_digest(binding, _context_hash(context)):
        raise DecryptionError("wrapped key belongs to another record")
    return bytes(dek)


def _context_hash(context: KeyContext) -> bytes:
    return hashlib.sha256(context.aad(INTAKE_KEK_VERSION)).digest()


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
