"""Talking to keyd: `KeydClient` (one request per connection, short timeouts) and `KeydCrypto`,
the `Crypto` implementation every web and worker process uses in sealed mode.

Fail closed: keyd missing, slow, sealed or answering nonsense all raise SealedError. The only
thing a sealed process can still do with keys is create *new* data keys, wrapped for the intake
public key (a sealed box): it can write encrypted data it cannot read back.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refuge.security import shares as share_format
from refuge.security.crypto import (
    DecryptionError,
    EnvelopeCrypto,
    KeyContext,
    seal_to_intake_box,
)
from refuge.security.keyd import protocol
from refuge.security.sealing import NotInitialisedError, SealedError

DEFAULT_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class KeydStatus:
    initialised: bool
    sealed: bool
    threshold: int
    shares: int
    progress: int
    instance_id: str
    reachable: bool = True

    @classmethod
    def unreachable(cls) -> KeydStatus:
        return cls(
            initialised=False,
            sealed=True,
            threshold=0,
            shares=0,
            progress=0,
            instance_id="",
            reachable=False,
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> KeydStatus:
        return cls(
            initialised=bool(message.get("initialised")),
            sealed=bool(message.get("sealed", True)),
            threshold=int(message.get("t", 0)),
            shares=int(message.get("n", 0)),
            progress=int(message.get("progress", 0)),
            instance_id=str(message.get("instance_id", "")),
        )


class KeydClient:
    def __init__(self, path: Path, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
            protocol.send(sock, {"op": op, **fields})
            response = protocol.receive(sock)
        except (OSError, protocol.ProtocolError):
            raise SealedError("keyd cannot be reached") from None
        finally:
            sock.close()
        if response is None:
            raise SealedError("keyd closed the connection")
        if response.get("ok") is True:
            return response
        error, message = response.get("error"), str(response.get("message", ""))
        if error == "share":
            raise share_format.ShareError(message)
        if error == "not_initialised":
            raise NotInitialisedError(message)
        if error == "decryption":
            raise DecryptionError(message)
        if error == "bad_request":
            raise ValueError(message)
        raise SealedError(message or "sealed")

    def status(self) -> KeydStatus:
        try:
            return KeydStatus.from_message(self.call("status"))
        except SealedError:
            return KeydStatus.unreachable()

    def unseal(self, share_text: str) -> KeydStatus:
        return KeydStatus.from_message(self.call("unseal", share=share_text))

    def reset(self) -> KeydStatus:
        return KeydStatus.from_message(self.call("reset"))

    def seal(self) -> KeydStatus:
        return KeydStatus.from_message(self.call("seal"))


class KeydCrypto(EnvelopeCrypto):
    """Key operations through keyd; field and stream encryption here, with the data key."""

    def __init__(self, client: KeydClient, intake_public_key: Callable[[], bytes | None]) -> None:
        self.client = client
        self._intake_public_key = intake_public_key

    def new_data_key(self, context: KeyContext, *, kek_version: int) -> tuple[bytes, bytes]:
        try:
            answer = self.client.call(
                "new_data_key",
                key_id=context.key_id,
                purpose=context.purpose,
                kek_version=kek_version,
            )
        except SealedError:
            public_key = self._intake_public_key()
            if public_key is None:
                raise
            return seal_to_intake_box(public_key, context)
        return protocol.unb64(answer, "dek"), protocol.unb64(answer, "wrapped")

    def unwrap_key(self, wrapped: bytes, context: KeyContext) -> bytes:
        answer = self.client.call(
            "unwrap_key",
            wrapped=protocol.b64(wrapped),
            key_id=context.key_id,
            purpose=context.purpose,
        )
        return protocol.unb64(answer, "dek")

    def rewrap_key(self, wrapped: bytes, context: KeyContext, *, kek_version: int) -> bytes:
        answer = self.client.call(
            "rewrap_key",
            wrapped=protocol.b64(wrapped),
            key_id=context.key_id,
            purpose=context.purpose,
            kek_version=kek_version,
        )
        return protocol.unb64(answer, "wrapped")

    def blind_index(self, domain: str, value: str, *, bits: int) -> bytes:
        answer = self.client.call("blind_index", domain=domain, value=value, bits=bits)
        return protocol.unb64(answer, "index")


def keyd_client(*, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> KeydClient:
    from django.conf import settings  # noqa: PLC0415 - keep this module usable without Django

    return KeydClient(settings.KEYD_SOCKET, timeout=timeout)
