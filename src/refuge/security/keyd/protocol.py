"""Wire format between keyd and its clients: a 4-byte big-endian length, then one JSON object.

Bytes travel as base64 text. Requests and responses are small (keys, shares, short values), so
anything over MAX_MESSAGE_BYTES is refused before it is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import struct
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """A malformed, oversized or truncated message."""


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message too large")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any] | None:
    """One message, or None when the peer closed the connection cleanly before a new one."""
    head = _read_exactly(sock, _LENGTH.size, allow_eof=True)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError("message too large")
    body = _read_exactly(sock, length, allow_eof=False)
    try:
        message = json.loads(body or b"")
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("message is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not an object")
    return message


def _read_exactly(sock: socket.socket, size: int, *, allow_eof: bool) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            if allow_eof and not buffer:
                return None
            raise ProtocolError("connection closed mid-message")
        buffer.extend(chunk)
    return bytes(buffer)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(message: dict[str, Any], name: str, *, max_bytes: int = 4096) -> bytes:
    value = message.get(name)
    if not isinstance(value, str) or len(value) > max_bytes * 2:
        raise ProtocolError(f"{name} is missing or too long")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{name} is not base64") from None


def text(message: dict[str, Any], name: str, *, max_chars: int = 2048) -> str:
    value = message.get(name)
    if not isinstance(value, str) or len(value) > max_chars:
        raise ProtocolError(f"{name} is missing or too long")
    return value


def integer(message: dict[str, Any], name: str, *, low: int, high: int) -> int:
    value = message.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"{name} must be an integer from {low} to {high}")
    return value
