"""The backup archive's byte format: a small authenticated plaintext header, then one libsodium
secretstream holding a sequence of named files.

    "refuge-backup\\n" | header length (4 bytes, big-endian) | header (canonical JSON, UTF-8)
    | secretstream (XChaCha20-Poly1305, 1 MiB chunks), whose first chunk carries everything
      before it as associated data, so a changed header byte fails authentication

Inside the stream each file is framed as

    "F" | name length (2 bytes) | name (UTF-8) | { chunk length (4 bytes) | chunk }* | 0 (4 bytes)

and the archive ends with "Z". `manifest.json` is always the last file. Framing lets both sides
stream: neither writer nor reader ever holds a whole file (or the archive) in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

MAGIC = b"refuge-backup\n"
FORMAT_VERSION = 1
KEY_PURPOSE = "backup"
MANIFEST = "manifest.json"
PIN_KEY = "keys/pin.key"
_LENGTH = struct.Struct(">I")
_NAME_LENGTH = struct.Struct(">H")
_FILE_START = b"F"
_ARCHIVE_END = b"Z"
_MAX_HEADER_BYTES = 1 << 16
_MAX_CHUNK_BYTES = 1 << 24
_MAX_MANIFEST_BYTES = 1 << 26
# Names are chosen by the writer, but a reader must never trust them as paths.
_NAME_RE = re.compile(
    r"^(?:db/[a-z0-9_]+\.[a-z0-9_]+\.jsonl|evidence/[A-Za-z0-9][A-Za-z0-9_-]{0,99}\.bin"
    r"|keys/pin\.key|manifest\.json)$"
)


def valid_name(name: str) -> bool:
    return _NAME_RE.match(name) is not None


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do. Nothing changed."""


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Header:
    """What may be read before decryption. Nothing here is secret: the archive key is wrapped by
    a KEK that only the root key yields, and the seal record's root key is wrapped by U."""

    archive_id: str
    instance_id: str
    key_mode: str
    kek_version: int
    wrapped_key: bytes
    seal: dict[str, Any] | None

    def to_bytes(self) -> bytes:
        body = canonical_json(
            {
                "format": FORMAT_VERSION,
                "archive_id": self.archive_id,
                "instance_id": self.instance_id,
                "key_mode": self.key_mode,
                "key_context": {"key_id": self.archive_id, "purpose": KEY_PURPOSE},
                "kek_version": self.kek_version,
                "wrapped_key": base64.b64encode(self.wrapped_key).decode("ascii"),
                "seal": self.seal,
            }
        )
        return MAGIC + _LENGTH.pack(len(body)) + body

    @classmethod
    def parse(cls, body: bytes) -> Header:
        try:
            data = json.loads(body)
            if data["format"] != FORMAT_VERSION:
                raise BackupError(
                    _("This archive has format version %(version)s; this Refuge reads version 1.")
                    % {"version": data["format"]}
                )
            header = cls(
                archive_id=str(data["archive_id"]),
                instance_id=str(data["instance_id"]),
                key_mode=str(data["key_mode"]),
                kek_version=int(data["kek_version"]),
                wrapped_key=base64.b64decode(data["wrapped_key"], validate=True),
                seal=data["seal"],
            )
            context = data["key_context"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise BackupError(_("The archive header is damaged.")) from None
        if context != {"key_id": header.archive_id, "purpose": KEY_PURPOSE}:
            raise BackupError(_("The archive header is damaged (key context)."))
        if header.key_mode not in {"keyfile", "sealed"}:
            raise BackupError(_("The archive header names an unknown key mode."))
        if header.seal is not None and not isinstance(header.seal, dict):
            raise BackupError(_("The archive header is damaged (seal record)."))
        return header


def read_header(chunks: Iterator[bytes]) -> tuple[Header, bytes, Iterator[bytes]]:
    """(header, the exact header bytes to authenticate, the rest of the file)."""
    reader = _Reader(chunks)
    if reader.read_up_to(len(MAGIC)) != MAGIC:
        raise BackupError(_("This file is not a Refuge backup archive."))
    raw_length = reader.read_up_to(_LENGTH.size)
    if len(raw_length) < _LENGTH.size:
        raise BackupError(_("The archive is truncated (its header is incomplete)."))
    (length,) = _LENGTH.unpack(raw_length)
    if length > _MAX_HEADER_BYTES:
        raise BackupError(_("The archive header is damaged (impossible length)."))
    body = reader.read_up_to(length)
    if len(body) < length:
        raise BackupError(_("The archive is truncated (its header is incomplete)."))
    return Header.parse(body), MAGIC + raw_length + body, reader.rest()


@dataclass
class FileRecord:
    sha256: str
    size: int


@dataclass
class Writer:
    """Frames files into the plaintext stream and remembers what the manifest must say."""

    files: dict[str, FileRecord] = field(default_factory=dict)

    def file(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        if not _NAME_RE.match(name) or name in self.files:
            raise ValueError(f"bad or repeated archive name {name!r}")
        encoded = name.encode("utf-8")
        yield _FILE_START + _NAME_LENGTH.pack(len(encoded)) + encoded
        digest = hashlib.sha256()
        size = 0
        for chunk in chunks:
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                yield _LENGTH.pack(len(chunk)) + bytes(chunk)
        yield _LENGTH.pack(0)
        self.files[name] = FileRecord(digest.hexdigest(), size)

    def finish(self, manifest: dict[str, Any]) -> Iterator[bytes]:
        manifest = {
            **manifest,
            "files": {
                name: {"sha256": rec.sha256, "bytes": rec.size}
                for name, rec in sorted(self.files.items())
            },
        }
        yield from self.file(MANIFEST, [canonical_json(manifest)])
        yield _ARCHIVE_END


class _Reader:
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()

    def read_up_to(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer.extend(chunk)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def read_exact(self, size: int) -> bytes:
        out = self.read_up_to(size)
        if len(out) < size:
            raise BackupError(_("The archive is truncated."))
        return out

    def rest(self) -> Iterator[bytes]:
        if self._buffer:
            yield bytes(self._buffer)
            self._buffer.clear()
        yield from self._chunks


@dataclass(frozen=True)
class Entry:
    name: str
    chunks: Iterator[bytes]


def entries(plaintext: Iterable[bytes]) -> Iterator[Entry]:
    """The files of a decrypted stream, in order. Each entry's chunks must be consumed before
    asking for the next entry (as with a streamed tar file)."""
    reader = _Reader(plaintext)
    while True:
        kind = reader.read_exact(1)
        if kind == _ARCHIVE_END:
            if reader.read_up_to(1):
                raise BackupError(_("The archive has data after its end."))
            return
        if kind != _FILE_START:
            raise BackupError(_("The archive's contents are malformed."))
        (length,) = _NAME_LENGTH.unpack(reader.read_exact(_NAME_LENGTH.size))
        name = reader.read_exact(length).decode("utf-8", errors="replace")
        if not _NAME_RE.match(name):
            raise BackupError(
                _("The archive holds a file with a forbidden name: %(name)r") % {"name": name}
            )
        body = _file_chunks(reader)
        yield Entry(name, body)
        for _rest in body:  # the caller may skip a file: drain it so the next one can be read
            pass


def _file_chunks(reader: _Reader) -> Iterator[bytes]:
    while True:
        (length,) = _LENGTH.unpack(reader.read_exact(_LENGTH.size))
        if length == 0:
            return
        if length > _MAX_CHUNK_BYTES:
            raise BackupError(_("The archive's contents are malformed (chunk too large)."))
        yield reader.read_exact(length)


def read_small(chunks: Iterable[bytes], limit: int = _MAX_MANIFEST_BYTES) -> bytes:
    data = bytearray()
    for chunk in chunks:
        data.extend(chunk)
        if len(data) > limit:
            raise BackupError(_("The archive's contents are malformed (file too large)."))
    return bytes(data)
