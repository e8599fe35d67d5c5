"""The master key file: created on first run (mode 0600), read at start, never in the database.

A later step replaces this with sealing (k-of-n shares and a key-holding process); everything
else reaches the key only through refuge.security.crypto.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from nacl.utils import random as random_bytes

KEY_BYTES = 32
_HEADER = "refuge-master-key:v1:"


class KeyFileError(Exception):
    """The key file is missing, unreadable, malformed or too open."""


def create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = (_HEADER + base64.b64encode(random_bytes(KEY_BYTES)).decode("ascii") + "\n").encode()
    # O_EXCL: never overwrite an existing key, which would make every record unreadable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_key_file(path: Path, *, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise KeyFileError(
                f"Key file {path} does not exist, but the database holds encrypted data. "
                "Restore the key file from its backup, or point REFUGE_KEY_FILE at it."
            )
        create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"Key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    text = path.read_text(encoding="ascii").strip()
    if not text.startswith(_HEADER):
        raise KeyFileError(f"Key file {path} is not a Refuge master key file.")
    try:
        key = base64.b64decode(text[len(_HEADER) :], validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"Key file {path} is corrupted.") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"Key file {path} is corrupted (wrong key length).")
    return key
