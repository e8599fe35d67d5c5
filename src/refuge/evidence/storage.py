"""Where evidence ciphertext lives on disk, and the file operations around it.

Layout under settings.EVIDENCE_DIR:
    tmp/<uuid>.part   ciphertext being written by an upload (removed when it fails)
    <uuid>.bin        a finished ciphertext, renamed into place after fsync

Every path here is built from a UUID object that came from the database or from uuid4():
nothing a user sends ever becomes part of a path, so traversal is impossible by construction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

PART_SUFFIX = ".part"
BIN_SUFFIX = ".bin"
READ_BYTES = 1 << 20


def root() -> Path:
    return Path(settings.EVIDENCE_DIR)


def tmp_dir() -> Path:
    return root() / "tmp"


def ensure_dirs() -> None:
    for directory in (root(), tmp_dir()):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)


def part_path(storage_name: uuid.UUID) -> Path:
    return tmp_dir() / f"{uuid.UUID(str(storage_name))}{PART_SUFFIX}"


def bin_path(storage_name: uuid.UUID) -> Path:
    return root() / f"{uuid.UUID(str(storage_name))}{BIN_SUFFIX}"


def open_part(storage_name: uuid.UUID) -> BinaryIO:
    """A new, exclusive, owner-only file for an upload's ciphertext."""
    ensure_dirs()
    fd = os.open(part_path(storage_name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(storage_name: uuid.UUID, handle: BinaryIO) -> Path:
    """fsync the finished ciphertext, then rename it into place (atomic on one file system)."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    target = bin_path(storage_name)
    part_path(storage_name).replace(target)
    _fsync_dir(root())
    return target


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_chunks(storage_name: uuid.UUID) -> Iterator[bytes]:
    """The stored ciphertext, chunk by chunk. Raises FileNotFoundError if it is gone."""
    with bin_path(storage_name).open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            yield chunk


def _older_than(path: Path, cutoff: dt.datetime) -> bool:
    try:
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    except FileNotFoundError:
        return False
    return modified < cutoff


def _storage_name(path: Path) -> uuid.UUID | None:
    try:
        return uuid.UUID(path.stem)
    except ValueError:
        return None


def stale_parts(cutoff: dt.datetime) -> list[Path]:
    """Upload files not written to since `cutoff`: their upload died with its process."""
    if not tmp_dir().is_dir():
        return []
    return [p for p in tmp_dir().glob(f"*{PART_SUFFIX}") if _older_than(p, cutoff)]


def stored_files(cutoff: dt.datetime) -> dict[uuid.UUID, Path]:
    """Finished ciphertexts older than `cutoff`, by storage name."""
    if not root().is_dir():
        return {}
    found: dict[uuid.UUID, Path] = {}
    for path in root().glob(f"*{BIN_SUFFIX}"):
        name = _storage_name(path)
        if name is not None and _older_than(path, cutoff):
            found[name] = path
    return found
